"""A batching background writer: monitoring rows leave the request path at once.

Requests put rows on a bounded queue (never blocking); one daemon thread per
process inserts them in batches, lingering ``linger_s`` after the first row of a
batch so that a busy process commits a few times a second, not once per request
(each commit, and each connection opened and closed, costs more CPU than the
inserts themselves). If the store fails (locked, read-only, deleted,
disk full) the batch is retried with backoff while the queue keeps taking rows; a
row is dropped only when the queue is full, and every drop is counted. Errors are
logged once per interval, not per request. ``flush()`` waits until everything
queued so far is stored; it runs at interpreter exit, so a stopping worker loses
nothing it had accepted. ``on_batch(conn, rows)``, if given, runs in each batch's
transaction after the insert (the rollups: stores/rollups.py), so both commit together;
if it has ``create_schema(engine)``, a recreated store gets its tables too.
"""
import atexit
import json
import logging
import os
import queue
import threading
import time

from sqlalchemy import insert

from flask_perf.stores.engines import open_private, private_dir

logger = logging.getLogger("flask_perf")
ERROR_LOG_INTERVAL_S = 60
DEFAULT_LINGER_S = 0.25


# MySQL/MariaDB: deadlock, lock wait timeout. InnoDB rolls the transaction back and
# expects the client to run it again; under load from several workers this is routine.
TRANSIENT_ERRORS = (1213, 1205)


def is_transient(exc: Exception) -> bool:
    """A deadlock or lock timeout: retry at once, no alarm."""
    code = getattr(getattr(exc, "orig", None), "args", (None,))[0]
    return code in TRANSIENT_ERRORS


class Throttle:
    """``due()`` is true at most once per ``interval_s``: one log line, not one per request."""

    def __init__(self, interval_s: float = ERROR_LOG_INTERVAL_S):
        self.interval_s = interval_s
        self._last = None

    def due(self) -> bool:
        now = time.monotonic()
        if self._last is not None and now - self._last < self.interval_s:
            return False
        self._last = now
        return True


class BatchWriter:
    def __init__(self, engine, table, name: str, max_queue: int = 50_000, batch: int = 1000,
                 health_dir: str | None = None, linger_s: float = DEFAULT_LINGER_S, on_batch=None):
        self.engine, self.table, self.name, self.on_batch = engine, table, name, on_batch
        self.batch, self.linger_s = batch, linger_s
        self._flush_now = threading.Event()
        self.health_dir = health_dir
        self._sqlite_path = engine.url.database if engine.dialect.name == "sqlite" else None
        self._inode = self._current_inode()  # the file its pooled connections have open
        self.queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self.written = self.dropped = self.failures = self.retried = 0
        self.last_error: str | None = None
        self._error_log = Throttle()
        self._lock = threading.Lock()
        self._pid = None
        self._thread = None
        atexit.register(self.close)

    def put(self, row: dict) -> None:
        """Queue one row; never blocks, never raises."""
        self._ensure_thread()
        try:
            self.queue.put_nowait(row)
        except queue.Full:
            self.dropped += 1
            self._log_error("queue full")

    def flush(self, timeout: float = 30) -> bool:
        """Wait until all rows queued so far are written (or dropped); True when done."""
        if self._thread is None or self._pid != os.getpid():
            return self.queue.empty()
        deadline = time.monotonic() + timeout
        self._flush_now.set()  # no lingering for the rows already queued
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.queue.unfinished_tasks

    def close(self) -> None:
        """At exit: store what is queued, then leave the counts where ``status`` reads them."""
        self.flush(timeout=10)
        if self._thread is not None and self._pid == os.getpid():
            self._save_health()

    def _save_health(self) -> None:
        if not self.health_dir:
            return
        try:
            private_dir(self.health_dir)  # 0700, its files 0600: they name the stores' errors
            path = os.path.join(self.health_dir, f"{self.name}-{os.getpid()}.json")
            with open_private(path) as handle:
                json.dump({**self.stats(), "pid": os.getpid(), "at": time.time()}, handle)
        except OSError:  # the disk may be the very thing that failed
            pass

    def stats(self) -> dict:
        return {"written": self.written, "queued": self.queue.qsize(), "dropped": self.dropped,
                "failures": self.failures, "retried": self.retried, "last_error": self.last_error}

    def _ensure_thread(self) -> None:
        if self._pid == os.getpid() and self._thread is not None:
            return
        with self._lock:  # a forked worker starts its own thread
            if self._pid != os.getpid() or self._thread is None:
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name=f"writer-{self.name}",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            rows = [self.queue.get()]
            if self.linger_s and self._flush_now.wait(self.linger_s):
                self._flush_now.clear()
            while len(rows) < self.batch:
                try:
                    rows.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            self._write(rows)
            for _ in rows:
                self.queue.task_done()

    def _write(self, rows: list[dict]) -> None:
        delay, transient_tries = 0.05, 0
        while True:
            try:
                self._check_file()
                with self.engine.begin() as conn:
                    conn.execute(insert(self.table), rows)
                    if self.on_batch is not None:
                        self.on_batch(conn, rows)
                self.written += len(rows)
                if self.last_error is not None:  # recovered: say so once
                    logger.warning("monitoring store %s writes again (%d dropped meanwhile)",
                                   self.name, self.dropped)
                    self.last_error = None
                    self._save_health()
                return
            except Exception as exc:  # keep the rows, back off, try again
                transient_tries = transient_tries + 1 if is_transient(exc) else 0
                if 0 < transient_tries <= 5:  # a deadlock victim: run it again at once
                    self.retried += 1
                    time.sleep(0.01)
                    continue
                self.failures += 1
                first = self.last_error is None
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                self._log_error(self.last_error)
                if first:
                    self._save_health()
                if self.queue.full():  # nobody can queue meanwhile: give these up
                    self.dropped += len(rows)
                    return
                self.engine.dispose()  # a connection that saw the fault may keep failing
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                self._recreate_schema()

    def _check_file(self) -> None:
        """A deleted or replaced SQLite file: pooled connections would keep writing into
        the unlinked one, so reconnect and create the schema in the new file."""
        if self._sqlite_path is None:
            return
        inode = self._current_inode()
        if inode != self._inode:
            self.engine.dispose()
            self._recreate_schema()
            inode = self._current_inode()
        self._inode = inode

    def _current_inode(self) -> int | None:
        if self._sqlite_path is None:
            return None
        try:
            return os.stat(self._sqlite_path).st_ino
        except FileNotFoundError:
            return None

    def _recreate_schema(self) -> None:
        """A deleted SQLite file comes back empty: create the table again."""
        try:
            self.table.metadata.create_all(self.engine)
            if hasattr(self.on_batch, "create_schema"):
                self.on_batch.create_schema(self.engine)
        except Exception:  # still failing: the next attempt logs it
            pass

    def _log_error(self, message: str) -> None:
        if self._error_log.due():
            logger.error("monitoring store %s: %s (dropped so far: %d)", self.name, message,
                         self.dropped)
