"""Settings shared by every profile of the demo app (the tools' keys live in flask_perf)."""


class BaseConfig:
    PROFILE = "base"
    SECRET_KEY: str | None = None  # comes from instance/config.py
    # None means "SQLite at instance/school.db"; set APP_SQLALCHEMY_DATABASE_URI for others.
    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    # flask_perf: the profile picks the tools (flask_perf/config.py has every PERF_* key
    # and its default); set any PERF_* key here, in instance/config.py or as APP_PERF_*.
    PERF_PROFILE = "bare"
    PERF_LOADTEST_LOCUSTFILE = "locustfile.py"  # webapp/locustfile.py (relative to the app's root_path)

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
