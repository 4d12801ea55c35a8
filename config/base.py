"""Settings shared by every profile, with every tool switched off.

Each monitoring module reads only its own keys; they are listed here with their
defaults so one file documents them all.
"""


class BaseConfig:
    PROFILE = "base"
    SECRET_KEY: str | None = None  # comes from instance/config.py
    # None means "SQLite at instance/school.db"; set APP_SQLALCHEMY_DATABASE_URI for others.
    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    SQLALCHEMY_RECORD_QUERIES = False

    # Shared credentials of /dashboard and /flask-profile (hash in instance/config.py).
    MONITOR_USER = "admin"
    MONITOR_PASSWORD: str | None = None
    MONITOR_PASSWORD_HASH: str | None = None
    # Where the monitoring stores live; None means the instance folder.
    MONITORING_DIR: str | None = None
    # Retention of every monitoring store (webapp/monitoring/retention.py)
    MONITORING_RETENTION_DAYS = 30
    MONITORING_MAX_ROWS = 1_000_000
    MONITORING_PRUNE_INTERVAL_S = 3600
    # Label stored with every monitoring record (app version + git revision when None).
    APP_VERSION: str | None = None

    # flask-debugtoolbar (webapp/monitoring/toolbar.py)
    DEBUG_TB_ENABLED = False
    DEBUG_TB_HOSTS = ("127.0.0.1", "::1")
    DEBUG_TB_INTERCEPT_REDIRECTS = False
    DEBUG_TB_PROFILER_ENABLED = True

    # Flask-MonitoringDashboard (webapp/monitoring/dashboard.py)
    DASHBOARD_ENABLED = False
    DASHBOARD_LEVEL = 1
    DASHBOARD_SAMPLING_PERIOD_MS = 5  # level-3 stack sampler period
    DASHBOARD_OUTLIER_CONSTANT = 2.5
    DASHBOARD_MANAGE_USER = True
    DASHBOARD_STACKS_IN_FLIGHT = 4  # level 3: profiled requests per process at once
    DASHBOARD_STACK_SAMPLE_EVERY = 1  # level 3: profile every N-th request

    # flask-profiler (webapp/monitoring/profiler.py)
    FLASK_PROFILER_ENABLED = False

    # werkzeug ProfilerMiddleware (webapp/monitoring/wsgi_profiler.py)
    WSGI_PROFILER_ENABLED = False
    WSGI_PROFILER_RESTRICTIONS = (5,)
    WSGI_PROFILER_KEEP = 200

    # slow-query log (webapp/monitoring/slow_queries.py)
    SLOW_QUERY_ENABLED = False
    SLOW_QUERY_MS = 100
