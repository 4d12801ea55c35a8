"""Flask-MonitoringDashboard at /dashboard, configured from ``app.config``.

Reads: DASHBOARD_ENABLED, DASHBOARD_LEVEL, DASHBOARD_SAMPLING_PERIOD_MS,
DASHBOARD_OUTLIER_CONSTANT, DASHBOARD_DATABASE_URL (default: dashboard.db in the
monitoring dir), DASHBOARD_MANAGE_USER (make the monitor login FMD's admin; off for
the test suite's recordings), APP_VERSION, and the shared monitor credentials.

Works around, in FMD 5.1:
- one global config and an engine fixed at first import: we build the engine
  ourselves (WAL, busy timeout) and rebind FMD's session to it for each app;
- ``version_requested`` and the endpoint level frozen as column defaults at
  import: set per insert from the current config instead;
- admin/admin created on first login: we create or update the user at start;
- ``SECRET_KEY = "my-secret-key"`` when the app has none: ours always has one;
- pages load AngularJS, angular-route, d3 and sunburst-chart from CDNs: the base
  template is served with pinned local copies (webapp/static/vendor), and the
  overview's version check asks this app instead of pypi.org;
- pruning and telemetry routes open to anonymous users: admin login required,
  and telemetry never leaves the machine.
"""
import contextlib
import importlib.metadata
import io
import pathlib

import flask_monitoringdashboard as fmd
import pytz
from flask import Response, jsonify, request
from jinja2 import ChoiceLoader, DictLoader
from sqlalchemy import event, update

from webapp.monitoring.credentials import credentials
from webapp.monitoring.stores import store_engine, store_url

URL_PREFIX = "/dashboard"
LOADTEST_HEADER = "X-Loadtest-Run"
CDN_TO_VENDOR = {
    "https://cdnjs.cloudflare.com/ajax/libs/angular.js/1.7.5/angular.js": "vendor/angular-1.7.5.min.js",
    "https://ajax.googleapis.com/ajax/libs/angularjs/1.7.5/angular-route.js":
        "vendor/angular-route-1.7.5.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/d3/4.12.0/d3.min.js": "vendor/d3-4.12.0.min.js",
    "https://unpkg.com/sunburst-chart": "vendor/sunburst-chart-1.21.4.min.js",
}
PYPI_URL = "https://pypi.org/pypi/Flask-MonitoringDashboard/json"
ANONYMOUS_STATE_CHANGERS = (
    "prune_database_on_demand", "get_pruning_schedule", "get_database_size",
    "accept_telemetry_consent", "submit_follow_up", "get_is_telemetry_answered",
    "get_is_telemetry_accepted",
)


def init_app(app) -> None:
    url = store_url(app, "DASHBOARD_DATABASE_URL", "dashboard.db")
    cfg = fmd.config
    cfg.database_name = url
    cfg.version = app.config["APP_VERSION"]
    cfg.monitor_level = int(app.config["DASHBOARD_LEVEL"])
    cfg.sampling_period = float(app.config["DASHBOARD_SAMPLING_PERIOD_MS"]) / 1000
    cfg.outlier_detection_constant = float(app.config["DASHBOARD_OUTLIER_CONSTANT"])
    cfg.timezone = pytz.utc
    cfg.brand_name = cfg.title_name = "flask-perf dashboard"
    cfg.enable_logging = False
    cfg.group_by = _load_test_run  # load-test requests are grouped by their run
    _bind_store(url)
    _sync_store(app)
    _bind(app)
    _serve_assets_locally(app)
    _close_anonymous_routes(app)
    app.extensions["flask_perf_tools"]["Flask-MonitoringDashboard"] = URL_PREFIX + "/"


def _bind_store(url: str) -> None:
    """Point FMD's session at our engine (first import creates FMD's own; replace it)."""
    from flask_monitoringdashboard import database as fmd_db

    if str(fmd_db.engine.url) != url or not getattr(fmd_db.engine, "_flask_perf", False):
        engine = store_engine(url, pooled=False)
        engine._flask_perf = True
        fmd_db.Base.metadata.create_all(engine)
        fmd_db.engine.dispose()
        fmd_db.engine = engine
        fmd_db.DBSession.configure(bind=engine)
    if not event.contains(fmd_db.Request, "before_insert", _stamp_version):
        event.listen(fmd_db.Request, "before_insert", _stamp_version)


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
    return request.headers.get(LOADTEST_HEADER)


def _stamp_version(_mapper, _connection, target) -> None:
    target.version_requested = fmd.config.version


def _sync_store(app) -> None:
    """Apply the profile's level to known endpoints and make our login the admin user."""
    from flask_monitoringdashboard.database import Endpoint, User, session_scope

    with session_scope() as session:
        session.execute(update(Endpoint).values(monitor_level=fmd.config.monitor_level))
        if not app.config["DASHBOARD_MANAGE_USER"]:
            return
        creds = credentials(app)
        user = session.query(User).filter(User.username == creds.user).one_or_none()
        if user is None:
            user = User(username=creds.user, is_admin=True)
            session.add(user)
        user.password_hash = creds.password_hash
        user.is_admin = True


def _serve_assets_locally(app) -> None:
    from flask_monitoringdashboard.core.auth import secure

    package = pathlib.Path(fmd.__file__).parent
    source = (package / "templates" / "fmd_base.html").read_text()
    for cdn, local in CDN_TO_VENDOR.items():
        if cdn not in source:
            raise RuntimeError(f"fmd_base.html no longer loads {cdn}: update CDN_TO_VENDOR")
        source = source.replace(cdn, "{{ url_for('static', filename='%s') }}" % local)
    app.jinja_loader = ChoiceLoader([DictLoader({"fmd_base.html": source}), app.jinja_loader])

    bundle = (package / "static" / "js" / "app.js").read_text()
    if PYPI_URL not in bundle:
        raise RuntimeError("FMD's app.js no longer calls pypi.org: update PYPI_URL")
    bundle = bundle.replace(PYPI_URL, "api/package_version")
    static_view = app.view_functions[f"{fmd.blueprint.name}.static"]

    def static(filename):
        if filename == "js/app.js":
            return Response(bundle, mimetype="text/javascript",
                            headers={"Cache-Control": "public, max-age=3600"})
        return static_view(filename)

    app.view_functions[f"{fmd.blueprint.name}.static"] = static
    app.add_url_rule(URL_PREFIX + "/api/package_version", "flask_perf_fmd_version",
                     secure(lambda: jsonify(info={"version": _fmd_version()})))


def _fmd_version() -> str:
    return importlib.metadata.version("Flask-MonitoringDashboard")


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
