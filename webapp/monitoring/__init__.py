"""Attach the performance tools the profile enables, each in the order it needs.

Query recording must be switched on before ``db.init_app`` (Flask-SQLAlchemy reads
it there); the dashboard and flask-profiler wrap views, so they come after the
routes; the WSGI profiler wraps everything, so it comes last.
"""
from flask import Flask


def init_query_recording(app: Flask) -> None:
    """Turn on Flask-SQLAlchemy's recorded queries when a tool reads them."""
    if app.config.get("DEBUG_TB_ENABLED") or app.config.get("SLOW_QUERY_ENABLED"):
        app.config["SQLALCHEMY_RECORD_QUERIES"] = True


def init_monitoring(app: Flask) -> None:
    """Attach every tool whose ``*_ENABLED`` key is true; record what was attached."""
    app.extensions.setdefault("flask_perf_tools", {})
