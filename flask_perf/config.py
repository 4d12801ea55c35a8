"""Every ``PERF_*`` key flask_perf reads, with its default, and the profile table.

Precedence, later wins: ``DEFAULTS`` → the profile's row in ``PROFILES`` → the
app's own config (``app.config``) → the environment variables
``FLASK_PERF_PROFILE`` / ``FLASK_PERF_VERSION`` / ``FLASK_PERF_STORE_DIR``
(``flask perf loadtest`` and ``pytest --perf`` use them for the apps they run).
The profile comes from ``init_app(app, profile=...)``, else ``PERF_PROFILE``, else
``FLASK_PERF_DEFAULT_PROFILE`` (``pytest --perf``: ``testing``), else ``development``
when ``app.debug`` and ``production`` otherwise. The toolbar's own ``DEBUG_TB_*``
keys are read by the toolbar.
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
    # Sessions and logins of both pages (sessions.py, logins.py, origin.py). The session
    # cookie gets SameSite=Lax unless the app set SESSION_COOKIE_SAMESITE, and Secure when
    # the request came over https; True: Secure always.
    "PERF_COOKIE_SECURE": None,
    # Origins besides the request's own host accepted on the tools' POST/PUT/DELETE requests
    # (e.g. "https://monitor.example" behind a proxy that rewrites Host).
    "PERF_TRUSTED_ORIGINS": (),
    # Failed logins (both pages, all workers) kept in <store dir>/flask-perf-auth.db: at most
    # this many rows, the oldest dropped first (limit and window: PERF_DASHBOARD_LOGIN_*).
    "PERF_LOGIN_FAILURES_MAX_ROWS": 10_000,
    # Extra header / field names whose values are never stored (redaction.py).
    "PERF_SENSITIVE_HEADERS": (),
    "PERF_SENSITIVE_FIELDS": (),
    # Caps on what one request can make a store keep (limits.py); cut text ends with
    # "…[truncated N chars]", dropped entries with "[N more … truncated]".
    "PERF_MAX_FIELD_CHARS": 512,  # each stored string: header, query/form/JSON value, key, path
    "PERF_MAX_FIELDS": 50,  # entries kept per mapping or list (headers, args, form, JSON)
    "PERF_MAX_DEPTH": 8,  # nesting kept in JSON bodies; deeper becomes a marker
    "PERF_MAX_BODY_CHARS": 2048,  # the raw body text flask-profiler keeps
    "PERF_MAX_RECORD_CHARS": 16_384,  # one flask-profiler context or FMD outlier, serialised
    # Request bodies over this answer 413 before any view or tool reads them. Applied as
    # MAX_CONTENT_LENGTH when the app has none (None: leave the app unlimited).
    "PERF_MAX_CONTENT_LENGTH": 1024 * 1024,
    # Retention of every store (stores/retention.py): at the first request, then every
    # interval (0 leaves it to `flask perf prune`), after a load test and a pytest --perf run.
    "PERF_RETENTION_DAYS": 30,  # raw rows: requests, stacks, measurements, slow queries
    "PERF_RETENTION_MAX_ROWS": 1_000_000,  # per store's main table
    "PERF_ROLLUP_RETENTION_DAYS": 400,  # hourly and daily rollups
    "PERF_STACKS_PER_VERSION": 200,  # newest profiled requests' call stacks per endpoint and version
    "PERF_PRUNE_INTERVAL_S": 3600,
    "PERF_PRUNE_CHUNK_ROWS": 500,  # ids per delete transaction: ~20 ms of write lock (stores/pruning.py)
    # Rollups (stores/rollups.py, backfill.py): a store written before them is rolled up in
    # the background from the first request, this many rows per transaction, this far apart.
    "PERF_ROLLUP_BACKFILL_CHUNK": 50_000,
    "PERF_ROLLUP_BACKFILL_PAUSE_S": 0.05,
    # flask-debugtoolbar (toolbar/): never attached in production.
    "PERF_TOOLBAR_ENABLED": False,
    "PERF_TOOLBAR_PROFILER_ROWS": 150,
    "PERF_TOOLBAR_SQL_LINK_MAX_AGE_S": 600,  # the SQL panel's signed EXPLAIN/SELECT links expire
    # Flask-MonitoringDashboard (dashboard/) at /dashboard.
    "PERF_DASHBOARD_ENABLED": False,
    "PERF_DASHBOARD_LEVEL": 1,
    "PERF_DASHBOARD_DATABASE_URL": None,  # None: dashboard.db in PERF_STORE_DIR
    "PERF_DASHBOARD_SAMPLING_PERIOD_MS": 5,
    "PERF_DASHBOARD_OUTLIER_CONSTANT": 2.5,
    "PERF_DASHBOARD_MANAGE_USER": True,  # make the monitor login FMD's admin user
    "PERF_DASHBOARD_STACKS_IN_FLIGHT": 4,
    "PERF_DASHBOARD_STACK_SAMPLE_EVERY": 1,
    # Level-3 call stacks per process: a burst (a developer clicking through pages gets each
    # one), then this many per second (a load test gets a steady sample); each costs ~20 ms
    # of CPU in FMD's threads (dashboard/sampling.py).
    "PERF_DASHBOARD_STACKS_PER_SECOND": 2,
    "PERF_DASHBOARD_STACKS_BURST": 10,
    # Passwords checked per client address (IPv6: per /64) and window, /dashboard's login
    # and /flask-profile's basic auth together, across workers; then 429.
    "PERF_DASHBOARD_LOGIN_LIMIT": 10,
    "PERF_DASHBOARD_LOGIN_WINDOW_S": 300,
    # How often each worker reads the endpoint levels from the store (a level set in the UI
    # reaches every worker within about this long).
    "PERF_DASHBOARD_LEVEL_SYNC_S": 1.0,
    # flask-profiler (profiler/) at /flask-profile.
    "PERF_PROFILER_ENABLED": False,
    "PERF_PROFILER_DATABASE_URL": None,  # None: profiler.db in PERF_STORE_DIR
    # After a basic-auth success the session remembers it this long (no scrypt per API
    # call); logout or a new password ends it sooner. 0: check the password every call.
    "PERF_PROFILER_AUTH_MAX_AGE_S": 600,
    "PERF_PROFILER_MAX_ROWS": 1000,  # rows per API answer (limit=-1 or larger gets this many)
    # werkzeug's ProfilerMiddleware (wsgi_profiler/): .prof files in <store dir>/profiles.
    "PERF_WSGI_PROFILER_ENABLED": False,
    "PERF_WSGI_PROFILER_RESTRICTIONS": (5,),
    "PERF_WSGI_PROFILER_KEEP": 200,
    # Slow-query log and N+1 detection (sql/).
    "PERF_SLOW_QUERY_ENABLED": False,
    "PERF_SLOW_QUERY_MS": 100,
    "PERF_SLOW_QUERY_DATABASE_URL": None,  # None: slow_queries.db in PERF_STORE_DIR
    "PERF_N_PLUS_ONE_THRESHOLD": 5,
    # The N+1 check keeps every statement of every request (~1 µs each); off in production,
    # where the slow-query log keeps only the statements over PERF_SLOW_QUERY_MS.
    "PERF_N_PLUS_ONE_ENABLED": True,
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
    "production": dict(PERF_DASHBOARD_ENABLED=_ON, PERF_DASHBOARD_LEVEL=1, PERF_SLOW_QUERY_ENABLED=_ON,
                       PERF_N_PLUS_ONE_ENABLED=False),
    "bare": {},
}
ENV_PROFILE, ENV_VERSION = "FLASK_PERF_PROFILE", "FLASK_PERF_VERSION"
ENV_STORE_DIR, ENV_DEFAULT_PROFILE = "FLASK_PERF_STORE_DIR", "FLASK_PERF_DEFAULT_PROFILE"


class ConfigError(ValueError):
    """flask_perf cannot attach with this configuration (the message says what to set)."""


def resolve_profile(app, profile: str | None = None) -> str:
    """The profile name for ``app`` (see the module docstring for the order)."""
    name = (os.environ.get(ENV_PROFILE) or profile or app.config.get("PERF_PROFILE")
            or os.environ.get(ENV_DEFAULT_PROFILE) or ("development" if app.debug else "production"))
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
    if os.environ.get(ENV_STORE_DIR):
        app.config["PERF_STORE_DIR"] = os.path.abspath(os.environ[ENV_STORE_DIR])
    if profile == "production":
        app.config["PERF_TOOLBAR_ENABLED"] = False  # never, whatever the config says
    if app.config["PERF_STORE_DIR"] is None:
        app.config["PERF_STORE_DIR"] = app.instance_path
