"""Flask-MonitoringDashboard at /dashboard, configured from ``app.config``.

Reads: PERF_DASHBOARD_ENABLED, PERF_DASHBOARD_LEVEL, PERF_DASHBOARD_SAMPLING_PERIOD_MS,
PERF_DASHBOARD_OUTLIER_CONSTANT, PERF_DASHBOARD_DATABASE_URL (default: dashboard.db in the
monitoring dir), PERF_DASHBOARD_MANAGE_USER (make the monitor login FMD's admin; off for
the test suite's recordings), PERF_VERSION, and the shared monitor credentials.

Works around, in FMD 5.1:
- one global config and an engine fixed at first import: we build the engine
  ourselves (WAL, busy timeout) and rebind FMD's session to it for each app (store.py);
- a thread per request and writes lost when the store is locked: batched,
  retried, counted writes (writer.py), and at level 1 a timer and a queue append
  per request, the row built by the writer thread (level1.py); level-3 profiles
  within a budget so they cannot fall behind (sampling.py);
- ``version_requested`` and the endpoint level frozen as column defaults at
  import: set per insert from the current config instead;
- admin/admin created on first login, a login form without CSRF token or rate
  limit: our login view (dashboard_login.py), and the user created at start;
- ``SECRET_KEY = "my-secret-key"`` when the app has none: ours always has one;
- pages load AngularJS, angular-route, d3 and sunburst-chart from CDNs: served
  from the app (dashboard_assets.py);
- bad path values in its JSON API answer 500 or run for minutes: checked first
  (dashboard_guard.py);
- scipy.stats imported at load for one report function (~70 MB per worker), numpy
  and APScheduler (~25 MB) for its pages and a scheduler we never start: deferred to
  first use (lazy.py);
- outlier records keep every header and the whole WSGI environ, the config view
  shows the store URL with its password: redacted, and capped (limits.py); the
  config view answered 500 to anonymous clients: sent to the login like the rest;
- ``X-Loadtest-Run`` stored as a group at any length: only a short token
  (limits.RUN_LABEL) becomes a group;
- pruning and telemetry routes open to anonymous users: admin login required,
  and telemetry never leaves the machine;
- no CSRF protection, and Endpoint rows created for any name a request sends:
  same-origin checks, JSON-only API posts, known names only (csrf.py);
- a logout that left copies of the session cookie working: login generations
  (login.py, flask_perf/sessions.py);
- ``set_rule`` dropping flask-profiler's wrapper and changing one worker only:
  level slots synced from the store (levels.py).
Every attribute and view of FMD replaced for these is a row of patches.py, checked
against the installed release at start.
"""
import contextlib
import io
import logging

import pytz
from flask import current_app, request
from sqlalchemy import update

from flask_perf.dashboard.lazy import deferred_imports
from flask_perf.limits import Caps, run_label, truncated
from flask_perf.loadtest import RUN_HEADER
from flask_perf.patching import apply as apply_patches
from flask_perf.redaction import redact_environ, redact_items, redact_url, sensitive_names
from flask_perf.state import is_tool_endpoint
from flask_perf.stores.engines import redacted_url, store_engine, store_url

with deferred_imports():  # numpy and APScheduler: FMD imports them at load, its pages use them
    import flask_monitoringdashboard as fmd

    from flask_perf.dashboard import assets as dashboard_assets
    from flask_perf.dashboard import csrf as dashboard_csrf
    from flask_perf.dashboard import guard as dashboard_guard
    from flask_perf.dashboard import levels as dashboard_levels
    from flask_perf.dashboard import login as dashboard_login
    from flask_perf.dashboard import sampling as dashboard_sampling
    from flask_perf.dashboard import store as dashboard_store
    from flask_perf.dashboard import writer as dashboard_writer

logger = logging.getLogger("flask_perf")
URL_PREFIX = "/dashboard"
ANONYMOUS_STATE_CHANGERS = (
    "prune_database_on_demand", "get_pruning_schedule", "get_database_size",
    "accept_telemetry_consent", "submit_follow_up", "get_is_telemetry_answered",
    "get_is_telemetry_accepted",
)


def init_app(app) -> None:
    with deferred_imports():  # FMD's views and the modules the patch rows name load here
        _init_app(app)


def _init_app(app) -> None:
    from flask_perf.dashboard import patches  # its rows name this module's replacements

    url = store_url(app, "PERF_DASHBOARD_DATABASE_URL", "dashboard.db")
    cfg = fmd.config
    cfg.database_name = url
    store_engine(url, pooled=False).connect().close()  # WAL, incremental vacuum: before FMD's import makes tables
    cfg.version = app.config["PERF_VERSION"]
    cfg.monitor_level = int(app.config["PERF_DASHBOARD_LEVEL"])
    cfg.sampling_period = float(app.config["PERF_DASHBOARD_SAMPLING_PERIOD_MS"]) / 1000
    cfg.outlier_detection_constant = float(app.config["PERF_DASHBOARD_OUTLIER_CONSTANT"])
    cfg.timezone = pytz.utc
    cfg.brand_name = cfg.title_name = "flask-perf dashboard"
    cfg.enable_logging = False
    cfg.group_by = _load_test_run  # load-test requests are grouped by their run
    apply_patches(patches.MODULES, app)  # FMD's engine first: _sync_store uses it
    dashboard_store.stamp_inserts()
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
    dashboard_csrf.init_app(app, fmd.blueprint.name)  # same origin; JSON posts; known endpoint names
    apply_patches(patches.ENDPOINTS, app)
    dashboard_guard.init_app(app, fmd.blueprint.name)
    app.extensions["flask_perf"].route_hooks.append(lambda name: _monitor_late_endpoint(app, name))
    dashboard_levels.init_app(app)  # after FMD decorated the views, before other tools wrap them
    app.extensions["flask_perf"].tools["Flask-MonitoringDashboard"] = URL_PREFIX + "/"


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


def _monitor_late_endpoint(app, name: str) -> None:
    """A view registered after init_app is wrapped like FMD's ``init_measurement`` does at bind."""
    from flask_monitoringdashboard.core import cache, measurement
    from flask_monitoringdashboard.database import DBSession
    from flask_monitoringdashboard.database.endpoint import get_endpoint_by_name

    if fmd.config.app is not app:  # FMD keeps one app per process: the last one bound
        logger.warning("Flask-MonitoringDashboard is bound to another app; %s is not measured", name)
        return
    with DBSession() as session, session.begin():
        endpoint = get_endpoint_by_name(session, name)
    cache.memory_cache.setdefault(name, cache.EndpointInfo())  # FMD's cache knows bind-time routes only
    measurement.add_decorator(endpoint)


def rules_with_views() -> list:
    """FMD's ``get_rules`` without flask_perf's own rules and those that have no view
    (``app.add_url_rule("/", endpoint="index")``, a ``url_for`` alias as in Flask's tutorial):
    its ``init_measurement`` raised KeyError on one, and the rollback lost every Endpoint row."""
    from flask_monitoringdashboard.core.rules import get_rules

    views = fmd.config.app.view_functions
    return [rule for rule in get_rules() if rule.endpoint in views and not is_tool_endpoint(rule.endpoint)]


def _load_test_run():
    """The ``X-Loadtest-Run`` header of the current request (set by ``flask loadtest``), if
    it is a valid label (limits.RUN_LABEL): any other value groups nothing and stores "None"."""
    return run_label(request.headers.get(RUN_HEADER))


def _sync_store(app) -> None:
    """Apply a newly configured level to known endpoints and make our login the admin user."""
    from flask_monitoringdashboard.database import Endpoint, User

    # BEGIN IMMEDIATE (the writers' session): a deferred transaction that reads User and
    # then writes fails at once with "database is locked" when another worker's writer
    # (a rollup backfill) commits in between, whatever the busy timeout.
    with dashboard_writer.writing_session() as session:
        if dashboard_levels.profile_level_changed(app):  # not on every worker's start
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


def _redact_outliers(original):
    """``OutlierProfiler.__init__`` (``original``) redacting headers and environ at capture
    (a row of patches.py): FMD's outlier records keep them in plain text."""
    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        headers, fields = sensitive_names(current_app.config)
        caps = Caps.of(current_app.config)  # attacker-sized headers stay bounded
        shown = caps.mapping(redact_items(request.headers.items(), headers).items())
        environ = caps.mapping(redact_environ(request.environ, headers, fields).items())
        self._request = (truncated("".join(f"{k}: {v}\r\n" for k, v in shown.items()), caps.record_chars),
                         truncated(str(environ), caps.record_chars),
                         caps.text(redact_url(request.url, fields)).encode("utf-8"))

    return __init__


def _redact_deploy_config(view, app):
    """FMD's ``deploy_config`` view (``view``) without the store URL's password (patches.py)."""
    def deploy_config():
        response = current_app.make_response(view())
        data = response.get_json(silent=True) if response.is_json else None
        if not isinstance(data, dict) or "database_name" not in data:
            return response  # the login redirect (anonymous) or an error: nothing to redact
        data["database_name"] = redacted_url(data["database_name"])
        response.set_data(app.json.dumps(data))
        return response

    return deploy_config
