"""Attach the performance tools the profile enables, each in the order it needs.

Query recording must be switched on before ``db.init_app`` (Flask-SQLAlchemy reads
it there); the dashboard and flask-profiler wrap views, so they come after the
routes; the toolbar comes after them so its own views are not measured; the WSGI
profiler wraps everything, so it comes last.
"""
import importlib
import logging

from flask import Flask

from webapp.monitoring.dashboard_lazy import defer_scipy_stats

defer_scipy_stats()  # before any module imports Flask-MonitoringDashboard (~70 MB per worker)

from webapp.monitoring import retention, status_cli  # noqa: E402
from webapp.monitoring.profiles_cli import profiles  # noqa: E402
from webapp.monitoring.stores import schema_lock  # noqa: E402


logger = logging.getLogger("webapp.monitoring")
# In attach order: the toolbar after the view wrappers (its own views stay
# unmeasured), the WSGI middleware last (it wraps everything).
TOOLS = (
    ("SLOW_QUERY_ENABLED", "slow_queries"),
    ("SLOW_QUERY_ENABLED", "nplusone"),
    ("DASHBOARD_ENABLED", "dashboard"),
    ("FLASK_PROFILER_ENABLED", "profiler"),
    ("DEBUG_TB_ENABLED", "toolbar"),
    ("WSGI_PROFILER_ENABLED", "wsgi_profiler"),
)


def init_query_recording(app: Flask) -> None:
    """Turn on Flask-SQLAlchemy's recorded queries for the toolbar (it shows the line of
    code of each statement); the slow-query log alone uses a lighter recorder
    (query_log.py), unless SQLALCHEMY_RECORD_QUERIES is set anyway."""
    if app.config.get("DEBUG_TB_ENABLED"):
        app.config["SQLALCHEMY_RECORD_QUERIES"] = True


def init_monitoring(app: Flask) -> None:
    """Attach every tool whose ``*_ENABLED`` key is true; record what was attached."""
    app.extensions.setdefault("flask_perf_tools", {})
    with schema_lock(app.config["MONITORING_DIR"]):
        _attach_tools(app)
    if app.extensions["flask_perf_tools"]:
        retention.init_app(app)
    app.cli.add_command(profiles)
    app.cli.add_command(status_cli.monitoring)
    from webapp.monitoring import explain_cli  # imports the models: not at package import

    app.cli.add_command(explain_cli.explain_command)
    app.cli.add_command(explain_cli.db_group)
    from webapp.report.cli import report_command

    app.cli.add_command(report_command)


def _attach_tools(app: Flask) -> None:
    for key, module in TOOLS:
        if key == "DEBUG_TB_ENABLED" and app.config["PROFILE"] == "production":
            continue  # never, whatever the configuration says
        if not app.config.get(key):
            continue
        try:
            importlib.import_module(f"webapp.monitoring.{module}").init_app(app)
        except Exception:  # the app outlives its monitoring, also at start
            if app.config.get("TESTING"):
                raise
            logger.exception("%s could not start; the app runs without it", module)
