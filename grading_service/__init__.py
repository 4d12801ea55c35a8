"""A stand-in for an external grading API: its own process, its own latency.

``/class_report`` calls it once per student over HTTP, the way an app calls a
partner's service it does not control. It is a separate program on purpose: the
app's latency comes from real socket waits, not from a ``sleep()`` in the app.

    python -m grading_service --port 5055 --latency-ms 20 [--jitter-ms 5]
    flask --app wsgi grading-service --latency-ms 20

``GET /grades/<student_id>`` answers ``{"student_id", "grade", "scale"}`` with a
grade that depends only on the id; ``?delay_ms=N`` overrides the latency of one
request (for tests). ``GET /health`` answers ``{"status": "ok", ...}``.
"""
from grading_service.server import DEFAULT_PORT, GradingSettings, grade_for, make_server, serve

__all__ = ["DEFAULT_PORT", "GradingSettings", "grade_for", "make_server", "serve"]
