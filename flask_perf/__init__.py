"""flask_perf: a performance workbench any Flask app attaches in two lines.

    from flask_perf import FlaskPerf
    perf = FlaskPerf()
    perf.init_app(app)   # after the app's blueprints are registered

The profile (config.py) decides which tools attach, each in the order it needs:
the SQL recorder first; the dashboard and flask-profiler wrap the registered views;
the toolbar after them, so its own views stay unmeasured; the WSGI profiler wraps
everything, so it comes last. All state lives in ``app.extensions["flask_perf"]``
(a ``PerfState``); nothing outlives an app but what the third-party tools keep
per process (see each tool's ``patches.py``).
"""
import importlib
import logging

from flask import Blueprint, Flask

from flask_perf.dashboard.lazy import defer_scipy_stats

defer_scipy_stats()  # before anything imports Flask-MonitoringDashboard (~70 MB per worker)

from flask_perf import config as perf_config  # noqa: E402
from flask_perf.config import ConfigError  # noqa: E402
from flask_perf.sql import recording  # noqa: E402
from flask_perf.state import PerfState  # noqa: E402
from flask_perf.stores.engines import schema_lock  # noqa: E402
from flask_perf.version import default_version  # noqa: E402

__all__ = ["FlaskPerf", "PerfState", "ConfigError", "RUN_HEADER"]
__version__ = "0.2.0"
RUN_HEADER = "X-Loadtest-Run"
logger = logging.getLogger("flask_perf")
# (config key, module) in attach order.
TOOLS = (
    ("PERF_SLOW_QUERY_ENABLED", "flask_perf.sql.slow_queries"),
    ("PERF_SLOW_QUERY_ENABLED", "flask_perf.sql.nplusone"),
    ("PERF_DASHBOARD_ENABLED", "flask_perf.dashboard"),
    ("PERF_PROFILER_ENABLED", "flask_perf.profiler"),
    ("PERF_TOOLBAR_ENABLED", "flask_perf.toolbar"),
    ("PERF_WSGI_PROFILER_ENABLED", "flask_perf.wsgi_profiler"),
)


class FlaskPerf:
    """The extension: ``FlaskPerf(app)`` or ``FlaskPerf()`` then ``init_app(app)``."""

    def __init__(self, app: Flask | None = None, **options):
        if app is not None:
            self.init_app(app, **options)

    def init_app(self, app: Flask, profile: str | None = None, engines=()) -> PerfState:
        """Attach the tools of ``profile`` to ``app``; ``engines``: SQLAlchemy engines to
        record besides Flask-SQLAlchemy's (e.g. a read replica's)."""
        if "flask_perf" in app.extensions:
            raise ConfigError(f"flask_perf is already attached to {app.name!r}: "
                              "call init_app once per app")
        if app.config.get("SQLALCHEMY_RECORD_QUERIES") is None:
            app.config["SQLALCHEMY_RECORD_QUERIES"] = False  # we record; the toolbar reads ours
        name = perf_config.resolve_profile(app, profile)
        perf_config.apply(app, name)
        if not app.config.get("PERF_VERSION"):
            app.config["PERF_VERSION"] = default_version(app)
        state = app.extensions["flask_perf"] = PerfState(app, name)
        app.register_blueprint(Blueprint("flask_perf", __name__, static_folder="dashboard/static",
                                         static_url_path="/_flask_perf/static"))
        self._record_queries(app, state, engines)
        with schema_lock(app.config["PERF_STORE_DIR"]):
            _attach_tools(app, state)
        state.check_routes_later()
        if state.tools:
            from flask_perf.stores import retention

            retention.init_app(app)
        from flask_perf.cli import perf_group

        app.cli.add_command(perf_group)
        return state

    @staticmethod
    def record_engine(app: Flask, engine) -> None:
        """Record the statements of another engine of ``app`` (created after init_app)."""
        recording.listen(engine)

    @staticmethod
    def _record_queries(app: Flask, state: PerfState, engines) -> None:
        config = app.config
        state.records_queries = bool(config["PERF_SLOW_QUERY_ENABLED"] or config["PERF_TOOLBAR_ENABLED"])
        state.query_locations = bool(config["PERF_TOOLBAR_ENABLED"])
        if not state.records_queries:
            return
        for engine in [*state.sqlalchemy_engines(), *engines]:
            recording.listen(engine)


def _attach_tools(app: Flask, state: PerfState) -> None:
    for key, module in TOOLS:
        if not app.config.get(key):
            continue
        try:
            importlib.import_module(module).init_app(app)
        except ConfigError:
            raise
        except Exception:  # the app outlives its monitoring, also at start
            if app.config.get("TESTING"):
                raise
            logger.exception("%s could not start; the app runs without it", module)
