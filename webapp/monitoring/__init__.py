"""Attach the performance tools the profile enables, each in the order it needs.

Query recording must be switched on before ``db.init_app`` (Flask-SQLAlchemy reads
it there); the dashboard and flask-profiler wrap views, so they come after the
routes; the toolbar comes after them so its own views are not measured; the WSGI
profiler wraps everything, so it comes last.
"""
from flask import Flask

from webapp.monitoring import status_cli
from webapp.monitoring.profiles_cli import profiles
from webapp.monitoring.stores import schema_lock


def init_query_recording(app: Flask) -> None:
    """Turn on Flask-SQLAlchemy's recorded queries when a tool reads them."""
    if app.config.get("DEBUG_TB_ENABLED") or app.config.get("SLOW_QUERY_ENABLED"):
        app.config["SQLALCHEMY_RECORD_QUERIES"] = True


def init_monitoring(app: Flask) -> None:
    """Attach every tool whose ``*_ENABLED`` key is true; record what was attached."""
    app.extensions.setdefault("flask_perf_tools", {})
    with schema_lock(app.config["MONITORING_DIR"]):
        _attach_tools(app)
    app.cli.add_command(profiles)
    app.cli.add_command(status_cli.monitoring)


def _attach_tools(app: Flask) -> None:
    if app.config.get("SLOW_QUERY_ENABLED"):
        from webapp.monitoring import slow_queries
        slow_queries.init_app(app)
    if app.config.get("DASHBOARD_ENABLED"):
        from webapp.monitoring import dashboard
        dashboard.init_app(app)
    if app.config.get("FLASK_PROFILER_ENABLED"):
        from webapp.monitoring import profiler
        profiler.init_app(app)
    if app.config.get("DEBUG_TB_ENABLED") and app.config["PROFILE"] != "production":
        from webapp.monitoring import toolbar  # after the view wrappers: its views stay unmeasured
        toolbar.init_app(app)
    if app.config.get("WSGI_PROFILER_ENABLED"):
        from webapp.monitoring import wsgi_profiler
        wsgi_profiler.init_app(app)
