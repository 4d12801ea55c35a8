"""``FlaskPerf``: attaches the tools of a profile to an app, each in the order it needs.

Imported on first use of ``flask_perf.FlaskPerf`` (see ``flask_perf/__init__.py``), so
that importing the package (e.g. pytest loading the plugin) costs nothing.
"""
import importlib
import logging

from flask import Blueprint, Flask

from flask_perf.dashboard.lazy import defer_scipy_stats

defer_scipy_stats()  # before anything imports Flask-MonitoringDashboard (~70 MB per worker)

from flask_perf import config as perf_config  # noqa: E402
from flask_perf import body_limit, headers, secret_key  # noqa: E402
from flask_perf.config import ConfigError  # noqa: E402
from flask_perf.sql import recording  # noqa: E402
from flask_perf.state import PerfState  # noqa: E402
from flask_perf.stores.engines import schema_lock  # noqa: E402
from flask_perf.version import default_version  # noqa: E402

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
        secret_key.check(app, name)  # production dashboard: a guessable key forges admin sessions
        state = app.extensions["flask_perf"] = PerfState(app, name)
        body_limit.init_app(app)  # MAX_CONTENT_LENGTH default; 413 before any tool reads a body
        app.register_blueprint(Blueprint("flask_perf", __name__, static_folder="dashboard/static",
                                         static_url_path="/_flask_perf/static"))
        self._record_queries(app, state, engines)
        with schema_lock(app.config["PERF_STORE_DIR"]):
            _attach_tools(app, state)
        headers.init_app(app, state)  # CSP, no framing, nosniff on the tools' pages
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
        state = app.extensions["flask_perf"]
        if state.records_queries:
            recording.listen(engine, state)

    @staticmethod
    def _record_queries(app: Flask, state: PerfState, engines) -> None:
        """Which statements the recorder keeps (sql/recording.py): every one of a request only
        for the toolbar and the N+1 check; else those over the slow-query threshold."""
        config = app.config
        slow_log, toolbar = bool(config["PERF_SLOW_QUERY_ENABLED"]), bool(config["PERF_TOOLBAR_ENABLED"])
        state.records_queries = slow_log or toolbar
        state.query_locations = toolbar
        state.collects_queries = toolbar or (slow_log and bool(config["PERF_N_PLUS_ONE_ENABLED"]))
        state.slow_query_s = float(config["PERF_SLOW_QUERY_MS"]) / 1000 if slow_log else None
        if not state.records_queries:
            return
        for engine in [*state.sqlalchemy_engines(), *engines]:
            recording.listen(engine, state)


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
