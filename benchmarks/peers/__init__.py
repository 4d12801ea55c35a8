"""Peers of flask_perf for benchmarks/overhead.py: the demo app with another tool attached.

Each module builds the demo app in its ``bare`` profile (no flask_perf tool) and
attaches one peer the way its documentation says, exposing ``app`` for gunicorn:

- ``prometheus_exporter``: prometheus-flask-exporter in multiprocess mode
  (``GunicornPrometheusMetrics``; PROMETHEUS_MULTIPROC_DIR set by the benchmark);
- ``otel``: OpenTelemetry, Flask and SQLAlchemy instrumentation, a BatchSpanProcessor
  with the OTLP/HTTP exporter sending to BENCH_OTLP_ENDPOINT (the benchmark's local
  dummy collector: nothing leaves the machine);
- ``fmd_stock``: Flask-MonitoringDashboard 5.1 as shipped, ``bind(app)`` at level 1 on
  a SQLite file in the instance folder (BENCH_FMD_DATABASE).

Benchmark code only: nothing in flask_perf imports these.
"""
