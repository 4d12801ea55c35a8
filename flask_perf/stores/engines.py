"""Engines for the monitoring stores: SQLite files under the monitoring dir by default.

Every SQLite store runs in WAL mode with a busy timeout, so readers (the dashboard
pages) never block writers and concurrent writers from several threads or worker
processes wait instead of failing with "database is locked". Any other SQLAlchemy
URL (a shared MariaDB or PostgreSQL) is used as given.

The stores hold request data: their files are private whatever the umask. A SQLite
file is created 0600 before SQLite opens it (SQLite gives its -wal/-shm files the
database file's mode), a wider existing one is tightened; flask_perf's own
directories (health/, profiles/, a store dir it creates) are 0700 (``private_dir``).
"""
import contextlib
import fcntl
import os

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

BUSY_TIMEOUT_MS = 30_000
PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def private_dir(path: str, tighten: bool = True) -> str:
    """Create ``path`` 0700 if missing; with ``tighten``, make an existing one 0700 too."""
    try:
        os.mkdir(path, PRIVATE_DIR)
    except FileExistsError:
        if not tighten:
            return path
    except FileNotFoundError:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return private_dir(path, tighten)
    _tighten(path, PRIVATE_DIR)
    return path


def private_file(path: str) -> None:
    """Create ``path`` 0600 unless it exists; tighten it and its SQLite companions."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE)
    except FileExistsError:
        pass
    else:
        os.fchmod(fd, PRIVATE_FILE)  # whatever the umask
        os.close(fd)
    for suffix in SQLITE_COMPANIONS:
        _tighten(path + suffix, PRIVATE_FILE)


def open_private(path: str, mode: str = "w"):
    """``open(path, mode)`` for writing, the file created 0600 (truncated for "w")."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    _tighten(path, PRIVATE_FILE)
    return os.fdopen(fd, mode)


def _tighten(path: str, mode: int) -> None:
    try:
        if os.stat(path).st_mode & 0o777 != mode:
            os.chmod(path, mode)
    except (FileNotFoundError, PermissionError):  # gone, or another user's: leave it
        pass


def store_url(app, config_key: str, filename: str) -> str:
    """``app.config[config_key]`` or a SQLite file named ``filename`` in the monitoring dir."""
    url = app.config.get(config_key)
    if url:
        return str(url)
    directory = app.config["PERF_STORE_DIR"]
    private_dir(directory, tighten=False)  # may be the app's instance folder: created 0700, never changed
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
    if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
        path = parsed.database
        event.listen(engine, "do_connect", lambda *_args: private_file(path))  # before SQLite creates it
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
    if cursor.execute("PRAGMA page_count").fetchone()[0] == 0:  # a new file (setting it later waits
        cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")  # for the write lock): compaction.py
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
    private_dir(directory, tighten=False)
    with open_private(os.path.join(directory, ".schema.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sqlite_inode(engine) -> int | None:
    """The inode of ``engine``'s SQLite file (None for another database, or no file yet):
    a changed one means the file was deleted or replaced under pooled connections."""
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    try:
        return os.stat(path).st_ino if path else None
    except FileNotFoundError:
        return None
