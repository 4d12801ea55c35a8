"""Engines for the monitoring stores: SQLite files under the monitoring dir by default.

Every SQLite store runs in WAL mode with a busy timeout, so readers (the dashboard
pages) never block writers and concurrent writers from several threads or worker
processes wait instead of failing with "database is locked". Any other SQLAlchemy
URL (a shared MariaDB or PostgreSQL) is used as given.
"""
import contextlib
import fcntl
import os

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

BUSY_TIMEOUT_MS = 30_000


def store_url(app, config_key: str, filename: str) -> str:
    """``app.config[config_key]`` or a SQLite file named ``filename`` in the monitoring dir."""
    url = app.config.get(config_key)
    if url:
        return str(url)
    directory = app.config["PERF_STORE_DIR"]
    os.makedirs(directory, exist_ok=True)
    return f"sqlite:///{os.path.abspath(os.path.join(directory, filename))}"


def sqlite_file_missing(url: str) -> bool:
    """True for a SQLite store whose file is not there (yet): nothing to read or prune."""
    return url.startswith("sqlite:///") and not os.path.exists(url[len("sqlite:///"):])


def health_dir(app) -> str:
    """Where each writer leaves its counts (written, dropped, last error) per process."""
    return os.path.join(app.config["PERF_STORE_DIR"], "health")


def store_engine(url: str, pooled: bool = True, immediate: bool = True) -> Engine:
    """An engine for a monitoring store, tuned for concurrent writers on SQLite.

    ``pooled=False`` gives SQLite a connection per use (NullPool): for writers that
    run one thread per request (FMD), which would otherwise exhaust a pool.
    ``immediate=False`` keeps SQLite's deferred transactions: for readers that may
    call a writer while their own transaction is open (FMD's pages flush its cache),
    which would wait on themselves if every transaction took the write lock.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_recycle=3600)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000,
                                              "check_same_thread": False},
                           **({} if pooled else {"poolclass": NullPool}))
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _begin_immediate if immediate else _begin_deferred)
    return engine


def _begin_deferred(conn) -> None:
    conn.exec_driver_sql("BEGIN")


def _begin_immediate(conn) -> None:
    """Take the write lock when the transaction starts. A deferred transaction that
    reads first and writes later cannot wait for the lock (SQLite answers "database
    is locked" at once to avoid a deadlock, whatever the busy timeout): FMD's level-3
    writes lost a fifth of their rows that way under load."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # transactions are begun by _begin_immediate
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def redacted_url(url: str) -> str:
    """The URL with any password hidden, for pages and logs."""
    return make_url(url).render_as_string(hide_password=True)


@contextlib.contextmanager
def schema_lock(directory: str):
    """Serialise store creation across processes: gunicorn workers start together, and
    two of them creating the same SQLite tables at once fails ("table already exists")."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, ".schema.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
