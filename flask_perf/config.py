"""Every ``PERF_*`` key flask_perf reads, with its default, and the profile table.

Precedence, later wins: ``DEFAULTS`` → the profile's row in ``PROFILES`` → the
app's own config (``app.config``) → the environment variables
``FLASK_PERF_PROFILE`` / ``FLASK_PERF_VERSION`` (``flask perf loadtest`` uses them
for the server it starts). The profile comes from ``init_app(app, profile=...)``,
else ``PERF_PROFILE``, else ``development`` when ``app.debug`` and ``production``
otherwise. The toolbar's own ``DEBUG_TB_*`` keys are read by the toolbar.
"""
import os

DEFAULTS = {
    "PERF_PROFILE": None,
    # Label stored with every record; None: the app's git revision (or "unversioned").
    "PERF_VERSION": None,
    # Where the SQLite stores live; None: the app's instance folder.
    "PERF_STORE_DIR": None,
    # Login of /dashboard and /flask-profile. Neither password nor hash set: a random
    # password is generated once, its hash kept in <instance>/flask-perf-login.json (0600).
    "PERF_MONITOR_USER": "admin",
    "PERF_MONITOR_PASSWORD": None,
    "PERF_MONITOR_PASSWORD_HASH": None,
    # Extra header / field names whose values are never stored (redaction.py).
    "PERF_SENSITIVE_HEADERS": (),
    "PERF_SENSITIVE_FIELDS": (),
    # Retention of every store (stores/retention.py); interval 0 leaves it to `flask perf prune`.
    "PERF_RETENTION_DAYS": 30,
    "PERF_RETENTION_MAX_ROWS": 1_000_000,
    "PERF_PRUNE_INTERVAL_S": 3600,
    # flask-debugtoolbar (toolbar/): never attached in production.
    "PERF_TOOLBAR_ENABLED": False,
    "PERF_TOOLBAR_PROFILER_ROWS": 150,
    # Flask-MonitoringDashboard (dashboard/) at /dashboard.
    "PERF_DASHBOARD_ENABLED": False,
    "PERF_DASHBOARD_LEVEL": 1,
    "PERF_DASHBOARD_DATABASE_URL": None,  # None: dashboard.db in PERF_STORE_DIR
    "PERF_DASHBOARD_SAMPLING_PERIOD_MS": 5,
    "PERF_DASHBOARD_OUTLIER_CONSTANT": 2.5,
    "PERF_DASHBOARD_MANAGE_USER": True,  # make the monitor login FMD's admin user
    "PERF_DASHBOARD_STACKS_IN_FLIGHT": 4,
    "PERF_DASHBOARD_STACK_SAMPLE_EVERY": 1,
    "PERF_DASHBOARD_STACKS_PER_SECOND": 10,
    "PERF_DASHBOARD_LOGIN_LIMIT": 10,
    "PERF_DASHBOARD_LOGIN_WINDOW_S": 300,
    # flask-profiler (profiler/) at /flask-profile.
    "PERF_PROFILER_ENABLED": False,
    "PERF_PROFILER_DATABASE_URL": None,  # None: profiler.db in PERF_STORE_DIR
    # werkzeug's ProfilerMiddleware (wsgi_profiler/): .prof files in <store dir>/profiles.
    "PERF_WSGI_PROFILER_ENABLED": False,
    "PERF_WSGI_PROFILER_RESTRICTIONS": (5,),
    "PERF_WSGI_PROFILER_KEEP": 200,
    # Slow-query log and N+1 detection (sql/).
    "PERF_SLOW_QUERY_ENABLED": False,
    "PERF_SLOW_QUERY_MS": 100,
    "PERF_SLOW_QUERY_DATABASE_URL": None,  # None: slow_queries.db in PERF_STORE_DIR
    "PERF_N_PLUS_ONE_THRESHOLD": 5,
    # flask perf loadtest (loadtest/).
    "PERF_LOADTEST_LOCUSTFILE": None,  # the app's own Locust users (else: every GET route)
    "PERF_LOADTEST_EXCLUDE": (),  # endpoint names or path prefixes the default scenario skips
}

_ON = True
PROFILES = {
    #              toolbar  dashboard level  profiler  .prof  slow-query log
    "development": dict(PERF_TOOLBAR_ENABLED=_ON, PERF_DASHBOARD_ENABLED=_ON, PERF_DASHBOARD_LEVEL=3,
                        PERF_PROFILER_ENABLED=_ON, PERF_SLOW_QUERY_ENABLED=_ON),
    "profiling": dict(PERF_DASHBOARD_ENABLED=_ON, PERF_DASHBOARD_LEVEL=1, PERF_PROFILER_ENABLED=_ON,
                      PERF_WSGI_PROFILER_ENABLED=_ON, PERF_SLOW_QUERY_ENABLED=_ON),
    "testing": dict(PERF_DASHBOARD_ENABLED=_ON, PERF_DASHBOARD_LEVEL=1, PERF_PROFILER_ENABLED=_ON,
                    PERF_SLOW_QUERY_ENABLED=_ON),
    "production": dict(PERF_DASHBOARD_ENABLED=_ON, PERF_DASHBOARD_LEVEL=1, PERF_SLOW_QUERY_ENABLED=_ON),
    "bare": {},
}
ENV_PROFILE, ENV_VERSION = "FLASK_PERF_PROFILE", "FLASK_PERF_VERSION"


class ConfigError(ValueError):
    """flask_perf cannot attach with this configuration (the message says what to set)."""


def resolve_profile(app, profile: str | None = None) -> str:
    """The profile name for ``app`` (see the module docstring for the order)."""
    name = (os.environ.get(ENV_PROFILE) or profile or app.config.get("PERF_PROFILE")
            or ("development" if app.debug else "production"))
    name = str(name).strip().lower()
    if name not in PROFILES:
        raise ConfigError(f"unknown flask_perf profile {name!r}; valid: {', '.join(sorted(PROFILES))}")
    return name


def apply(app, profile: str) -> None:
    """Fill in every PERF_* key the app did not set: its profile's value, else the default."""
    for key, value in {**DEFAULTS, **PROFILES[profile]}.items():
        app.config.setdefault(key, value)
    app.config["PERF_PROFILE"] = profile
    if os.environ.get(ENV_VERSION):
        app.config["PERF_VERSION"] = os.environ[ENV_VERSION]
    if profile == "production":
        app.config["PERF_TOOLBAR_ENABLED"] = False  # never, whatever the config says
    if app.config["PERF_STORE_DIR"] is None:
        app.config["PERF_STORE_DIR"] = app.instance_path
