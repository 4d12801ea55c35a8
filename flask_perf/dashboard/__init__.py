"""Flask-MonitoringDashboard at /dashboard, configured from ``app.config``.

Reads: PERF_DASHBOARD_ENABLED, PERF_DASHBOARD_LEVEL, PERF_DASHBOARD_SAMPLING_PERIOD_MS,
PERF_DASHBOARD_OUTLIER_CONSTANT, PERF_DASHBOARD_DATABASE_URL (default: dashboard.db in the
monitoring dir), PERF_DASHBOARD_MANAGE_USER (make the monitor login FMD's admin; off for
the test suite's recordings), PERF_VERSION, and the shared monitor credentials.

Works around, in FMD 5.1:
- one global config and an engine fixed at first import: we build the engine
  ourselves (WAL, busy timeout) and rebind FMD's session to it for each app;
- a thread per request and writes lost when the store is locked: batched,
  retried, counted writes (dashboard_writer.py); level-3 profiles within a budget
  so they cannot fall behind (dashboard_sampling.py);
- ``version_requested`` and the endpoint level frozen as column defaults at
  import: set per insert from the current config instead;
- admin/admin created on first login, a login form without CSRF token or rate
  limit: our login view (dashboard_login.py), and the user created at start;
- ``SECRET_KEY = "my-secret-key"`` when the app has none: ours always has one;
- pages load AngularJS, angular-route, d3 and sunburst-chart from CDNs: served
  from the app (dashboard_assets.py);
- bad path values in its JSON API answer 500 or run for minutes: checked first
  (dashboard_guard.py);
- scipy.stats imported at load for one report function (~70 MB per worker):
  deferred to first use (dashboard_lazy.py, called by the package);
- outlier records keep every header and the whole WSGI environ, the config view
  shows the store URL with its password: redacted;
- pruning and telemetry routes open to anonymous users: admin login required,
  and telemetry never leaves the machine.
"""
import contextlib
import io
import logging

import flask_monitoringdashboard as fmd
import pytz
from flask import current_app, request
from sqlalchemy import event, update

from flask_perf.dashboard import assets as dashboard_assets
from flask_perf.dashboard import guard as dashboard_guard
from flask_perf.dashboard import login as dashboard_login
from flask_perf.dashboard import sampling as dashboard_sampling
from flask_perf.dashboard import writer as dashboard_writer
from flask_perf.loadtest import RUN_HEADER
from flask_perf.redaction import (redact_environ, redact_items, redact_url,
                                         sensitive_names)
from flask_perf.stores.engines import redacted_url, store_engine, store_url

logger = logging.getLogger("flask_perf")
URL_PREFIX = "/dashboard"
ANONYMOUS_STATE_CHANGERS = (
    "prune_database_on_demand", "get_pruning_schedule", "get_database_size",
    "accept_telemetry_consent", "submit_follow_up", "get_is_telemetry_answered",
    "get_is_telemetry_accepted",
)


def init_app(app) -> None:
    url = store_url(app, "PERF_DASHBOARD_DATABASE_URL", "dashboard.db")
    cfg = fmd.config
    cfg.database_name = url
    cfg.version = app.config["PERF_VERSION"]
    cfg.monitor_level = int(app.config["PERF_DASHBOARD_LEVEL"])
    cfg.sampling_period = float(app.config["PERF_DASHBOARD_SAMPLING_PERIOD_MS"]) / 1000
    cfg.outlier_detection_constant = float(app.config["PERF_DASHBOARD_OUTLIER_CONSTANT"])
    cfg.timezone = pytz.utc
    cfg.brand_name = cfg.title_name = "flask-perf dashboard"
    cfg.enable_logging = False
    cfg.group_by = _load_test_run  # load-test requests are grouped by their run
    _bind_store(url)
    dashboard_writer.install(app, url)
    dashboard_sampling.install(app)
    try:
        _sync_store(app)
    except Exception:  # a read-only or locked store must not stop the app from starting
        if app.config["TESTING"]:
            raise
        logger.exception("could not update the dashboard store's levels and login at start")
    _bind(app)
    dashboard_assets.init_app(app, fmd.blueprint.name)
    dashboard_login.init_app(app, fmd.blueprint.name)
    _close_anonymous_routes(app)
    dashboard_guard.init_app(app, fmd.blueprint.name)
    _redact_outliers()
    _redact_deploy_config(app)
    app.extensions["flask_perf"].tools["Flask-MonitoringDashboard"] = URL_PREFIX + "/"


def _bind_store(url: str) -> None:
    """Point FMD's session at our engine (first import creates FMD's own; replace it)."""
    from flask_monitoringdashboard import database as fmd_db

    if str(fmd_db.engine.url) != url or not getattr(fmd_db.engine, "_flask_perf", False):
        engine = store_engine(url, pooled=False, immediate=False)  # its pages read, then write
        engine._flask_perf = True
        fmd_db.Base.metadata.create_all(engine)
        fmd_db.engine.dispose()
        fmd_db.engine = engine
        fmd_db.DBSession.configure(bind=engine)
    if not event.contains(fmd_db.Request, "before_insert", _stamp_version):
        event.listen(fmd_db.Request, "before_insert", _stamp_version)
        event.listen(fmd_db.Endpoint, "before_insert", _stamp_level)


def _bind(app) -> None:
    """``fmd.bind``, also for a second app in one process (tests, CLI).

    FMD's blueprint is global; a second bind trips Flask's "already registered"
    check unless the app is in testing mode, which FMD then tolerates and binds
    the new app correctly. We take that path for the duration of the call.
    """
    if not fmd.blueprint._got_registered_once:
        fmd.bind(app, schedule=False)
        return
    testing = app.config["TESTING"]
    app.config["TESTING"] = True
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # FMD prints a note about it
            fmd.bind(app, schedule=False)
    finally:
        app.config["TESTING"] = testing


def _load_test_run():
    """The ``X-Loadtest-Run`` header of the current request (set by ``flask loadtest``)."""
    return request.headers.get(RUN_HEADER)


def _stamp_version(_mapper, _connection, target) -> None:
    target.version_requested = fmd.config.version


def _stamp_level(_mapper, _connection, target) -> None:
    """New endpoints get this app's level (FMD froze the first app's as the default)."""
    target.monitor_level = fmd.config.monitor_level


def _sync_store(app) -> None:
    """Apply the profile's level to known endpoints and make our login the admin user."""
    from flask_monitoringdashboard.database import DBSession, Endpoint, User

    with DBSession() as session, session.begin():
        session.execute(update(Endpoint).values(monitor_level=fmd.config.monitor_level))
        if not app.config["PERF_DASHBOARD_MANAGE_USER"]:
            return
        creds = app.extensions["flask_perf"].credentials
        user = session.query(User).filter(User.username == creds.user).one_or_none()
        if user is None:
            user = User(username=creds.user, is_admin=True)
            session.add(user)
        user.password_hash = creds.password_hash
        user.is_admin = True


def _close_anonymous_routes(app) -> None:
    from flask_monitoringdashboard.core import telemetry
    from flask_monitoringdashboard.core.auth import admin_secure

    for name in ANONYMOUS_STATE_CHANGERS:
        endpoint = f"{fmd.blueprint.name}.{name}"
        view = app.view_functions[endpoint]
        if not getattr(view, "_flask_perf_secured", False):
            app.view_functions[endpoint] = secured = admin_secure(view)
            secured._flask_perf_secured = True
    telemetry.fetch_ip_from_github = lambda *args, **kwargs: None  # no outbound calls


def _redact_outliers() -> None:
    """Outlier records keep request headers and environ: redact them at capture."""
    from flask_monitoringdashboard.core.profiler.outlier_profiler import OutlierProfiler

    original = OutlierProfiler.__init__
    if getattr(original, "_flask_perf", False):
        return

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        headers, fields = sensitive_names(current_app.config)
        shown = redact_items(request.headers.items(), headers)
        self._request = ("".join(f"{k}: {v}\r\n" for k, v in shown.items()),
                         str(redact_environ(request.environ, headers, fields)),
                         redact_url(request.url, fields).encode("utf-8"))

    __init__._flask_perf = True
    OutlierProfiler.__init__ = __init__


def _redact_deploy_config(app) -> None:
    endpoint = f"{fmd.blueprint.name}.deploy_config"
    view = app.view_functions[endpoint]

    def deploy_config():
        response = view()
        data = response.get_json()
        data["database_name"] = redacted_url(data["database_name"])
        response.set_data(app.json.dumps(data))
        return response

    app.view_functions[endpoint] = deploy_config
