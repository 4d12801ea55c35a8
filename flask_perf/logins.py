"""The monitoring login's shared state: failed logins, session epochs, and ``check_login``.

Both tools (the /dashboard login form and /flask-profile's basic auth) check
passwords through ``check_login``, which counts failures per client in one small
SQLite file, ``<PERF_STORE_DIR>/flask-perf-auth.db`` (mode 0600), so the limit holds
across worker processes and across both tools: at most PERF_DASHBOARD_LOGIN_LIMIT
passwords per client address (an IPv6 client: per /64) are checked within
PERF_DASHBOARD_LOGIN_WINDOW_S seconds, then 429. An attempt is recorded *before*
its password is checked (and removed when it succeeds), so concurrent workers
cannot check more than the limit between them. Rows older than the window are
pruned on every attempt, and the table never holds more than
PERF_LOGIN_FAILURES_MAX_ROWS rows (the oldest go first): nothing is kept in memory.
The same file keeps each user's session epoch (sessions.py) and the dashboard level
last applied from the configuration (dashboard/levels.py).
"""
import contextlib
import ipaddress
import os
import sqlite3
import time

from flask import abort, current_app, request

AUTH_DB = "flask-perf-auth.db"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS failed_logins (client TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS failed_logins_client ON failed_logins (client, at)",
    "CREATE INDEX IF NOT EXISTS failed_logins_at ON failed_logins (at)",
    "CREATE TABLE IF NOT EXISTS session_epochs (user TEXT PRIMARY KEY, epoch TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


def client_key(address: str | None) -> str:
    """The unit that is rate limited: the address, or its /64 for IPv6 (one host's range)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "?"
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class AuthStore:
    """The auth file of one store dir. A connection per call: cheap, and safe across fork."""

    def __init__(self, path: str, limit: int, window_s: float, max_rows: int):
        self.path, self.limit, self.window_s, self.max_rows = path, limit, window_s, max_rows
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))  # 0600 before SQLite creates it
        with self.connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            for statement in SCHEMA:
                conn.execute(statement)

    @contextlib.contextmanager
    def connect(self, write: bool = False):
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            if write:
                conn.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes
            yield conn
            if write:
                conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def begin_attempt(self, client: str) -> int | None:
        """Record a pending failure for ``client`` and return its id; None when blocked."""
        now = time.time()
        with self.connect(write=True) as conn:
            conn.execute("DELETE FROM failed_logins WHERE at < ?", (now - self.window_s,))
            (count,) = conn.execute("SELECT COUNT(*) FROM failed_logins WHERE client = ? AND at >= ?",
                                    (client, now - self.window_s)).fetchone()
            if count >= self.limit:
                return None
            row = conn.execute("INSERT INTO failed_logins (client, at) VALUES (?, ?)", (client, now)).lastrowid
            conn.execute("DELETE FROM failed_logins WHERE rowid <= ?", (row - self.max_rows,))
            return row

    def succeeded(self, attempt: int) -> None:
        """The password was right: that attempt is no failure."""
        with self.connect(write=True) as conn:
            conn.execute("DELETE FROM failed_logins WHERE rowid = ?", (attempt,))

    def failures(self, client: str | None = None) -> int:
        with self.connect() as conn:
            if client is None:
                return conn.execute("SELECT COUNT(*) FROM failed_logins").fetchone()[0]
            return conn.execute("SELECT COUNT(*) FROM failed_logins WHERE client = ? AND at >= ?",
                                (client, time.time() - self.window_s)).fetchone()[0]

    def epoch(self, user: str) -> str:
        with self.connect() as conn:
            row = conn.execute("SELECT epoch FROM session_epochs WHERE user = ?", (user,)).fetchone()
        return row[0] if row else ""

    def set_epoch(self, user: str, epoch: str) -> None:
        with self.connect(write=True) as conn:
            conn.execute("INSERT INTO session_epochs (user, epoch) VALUES (?, ?) ON CONFLICT (user) "
                         "DO UPDATE SET epoch = excluded.epoch", (user, epoch))

    def replace_setting(self, key: str, value: str) -> bool:
        """Store ``value`` under ``key``; True when it differs from what was there."""
        with self.connect(write=True) as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
            conn.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) "
                         "DO UPDATE SET value = excluded.value", (key, value))
        return row is None or row[0] != value


def auth_store(app=None) -> AuthStore:
    """The app's AuthStore (created by init_app)."""
    return (app or current_app).extensions["flask_perf"].auth_store


def check_login(user: str | None, password: str | None) -> bool:
    """The monitor credentials, checked at most ``limit`` times per client and window (429 then)."""
    store = auth_store()
    attempt = store.begin_attempt(client_key(request.remote_addr))
    if attempt is None:
        abort(429, description="Too many failed logins; try again later.")
    if not current_app.extensions["flask_perf"].credentials.check(user, password):
        return False
    store.succeeded(attempt)
    return True


def init_app(app) -> AuthStore:
    """Create the app's AuthStore once (both tools call this)."""
    state = app.extensions["flask_perf"]
    if getattr(state, "auth_store", None) is None:
        config = app.config
        state.auth_store = AuthStore(os.path.join(config["PERF_STORE_DIR"], AUTH_DB),
                                     int(config["PERF_DASHBOARD_LOGIN_LIMIT"]),
                                     float(config["PERF_DASHBOARD_LOGIN_WINDOW_S"]),
                                     int(config["PERF_LOGIN_FAILURES_MAX_ROWS"]))
    return state.auth_store
