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
    DEBUG_TB_PROFILER_ROWS = 150  # profiler panel: top functions by cumulative time

    # Flask-MonitoringDashboard (webapp/monitoring/dashboard.py)
    DASHBOARD_ENABLED = False
    DASHBOARD_LEVEL = 1
    DASHBOARD_SAMPLING_PERIOD_MS = 5  # level-3 stack sampler period
    DASHBOARD_OUTLIER_CONSTANT = 2.5
    DASHBOARD_MANAGE_USER = True
    DASHBOARD_STACKS_IN_FLIGHT = 4  # level 3: profiled requests per process at once
    DASHBOARD_STACK_SAMPLE_EVERY = 1  # level 3: profile every N-th request
    DASHBOARD_STACKS_PER_SECOND = 10  # level 3: at most this many profiles/s per process (0: no cap)

    # flask-profiler (webapp/monitoring/profiler.py)
    FLASK_PROFILER_ENABLED = False

    # werkzeug ProfilerMiddleware (webapp/monitoring/wsgi_profiler.py)
    WSGI_PROFILER_ENABLED = False
    WSGI_PROFILER_RESTRICTIONS = (5,)
    WSGI_PROFILER_KEEP = 200

    # slow-query log (webapp/monitoring/slow_queries.py)
    SLOW_QUERY_ENABLED = False
    SLOW_QUERY_MS = 100

    # External grading API and background jobs (webapp/grading/, grading_service/)
    GRADING_SERVICE_URL = "http://127.0.0.1:5055"
    GRADING_TIMEOUT_S = 2.0  # per call (connect and read); slower is a 504
    REDIS_URL = "redis://127.0.0.1:6379/0"
    REDIS_TIMEOUT_S = 2.0  # web side: a Redis that does not answer is a quick 503
    JOBS_QUEUE = "flask-perf"
    JOBS_TIMEOUT_S = 600  # a job running longer is stopped (and retried)
    JOBS_RESULT_TTL_S = 86_400  # how long GET /class_report/jobs/<id> shows a result or error
    JOBS_RETRY_MAX = 2  # further attempts of a failed job (0: none)
    JOBS_RETRY_INTERVALS_S = (10, 60)  # wait before each retry (run by `flask worker`'s scheduler)
    # Where the worker records each attempt; None means "SQLite jobs.db in the monitoring dir".
    JOBS_DATABASE_URL: str | None = None

    # Read replica (webapp/replica.py): reads of GET/HEAD requests go to it, the rest to
    # the primary. None = off. SQLALCHEMY_BINDS={"replica": url} is accepted too.
    READ_REPLICA_URL: str | None = None
    READ_REPLICA_CONNECT_TIMEOUT_S = 2  # what a dead replica costs, once per retry interval
    READ_REPLICA_RETRY_S = 30  # after a failed connect: primary only (one warning) this long
    READ_REPLICA_STICKY_S = 5  # after a write, that client reads from the primary this long
