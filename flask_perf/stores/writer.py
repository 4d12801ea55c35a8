"""A batching background writer: monitoring rows leave the request path at once.

Requests put rows on a bounded queue (never blocking; a ``SimpleQueue``, whose put
costs ~0.05 µs where ``queue.Queue``'s lock and condition cost ~1 µs); one daemon
thread per process inserts them in batches, lingering ``linger_s`` after the first row of a
batch so that a busy process commits a few times a second, not once per request
(each commit, and each connection opened and closed, costs more CPU than the
inserts themselves). If the store fails (locked, read-only, deleted,
disk full) the batch is retried with backoff while the queue keeps taking rows; a
row is dropped only when the queue is full, and every drop is counted. Errors are
logged once per interval, not per request. ``flush()`` waits until everything
queued so far is stored; it runs at interpreter exit, so a stopping worker loses
nothing it had accepted. ``prepare(item)``, if given, turns what a request queued
(raw values, cheap to capture) into the rows to insert, in the writer thread: the
request path does no formatting, redaction or lookups; ``after_prepare()``, if given,
runs once the items of a batch are prepared (per-batch work of ``prepare``). On SQLite
a batch goes in as multi-row statements (multirow.py: one GIL hand-over per chunk, not
per row). ``on_batch(conn, rows)``, if given, runs in each batch's transaction after the
insert (the rollups: stores/rollups.py), so both commit together; if it has
``create_schema(engine)``, a recreated store gets its tables too.
``when_started(fn)`` runs ``fn`` in the writer thread when it starts in a process (the
pruner starts that way: no per-request check).
"""
import atexit
import json
import logging
import os
import queue
import threading
import time

from sqlalchemy import insert

from flask_perf.stores.engines import open_private, private_dir, sqlite_inode
from flask_perf.stores.multirow import insert_rows

logger = logging.getLogger("flask_perf")
ERROR_LOG_INTERVAL_S = 60
DEFAULT_LINGER_S = 1.0  # a worker at 500 req/s commits once a second, ~500 rows a batch
_process = {"pid": os.getpid()}  # os.getpid() is a system call: not on every put
os.register_at_fork(after_in_child=lambda: _process.update(pid=os.getpid()))


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


class _FlushMark:
    """Put by ``flush()``: set once every item queued before it is stored."""

    def __init__(self):
        self.done = threading.Event()


class BatchWriter:
    def __init__(self, engine, table, name: str, max_queue: int = 50_000, batch: int = 1000,
                 health_dir: str | None = None, linger_s: float = DEFAULT_LINGER_S, on_batch=None,
                 prepare=None, after_prepare=None):
        self.engine, self.table, self.name, self.on_batch = engine, table, name, on_batch
        self.prepare, self.after_prepare = prepare, after_prepare
        self.batch, self.linger_s, self.max_queue = batch, linger_s, max_queue
        self._started_hooks: list = []
        self._flush_now = threading.Event()
        self.health_dir = health_dir
        self._sqlite_path = engine.url.database if engine.dialect.name == "sqlite" else None
        self._inode = self._current_inode()  # the file its pooled connections have open
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.written = self.dropped = self.failures = self.retried = 0
        self.last_error: str | None = None
        self._error_log = Throttle()
        self._lock = threading.Lock()
        self._pid = None
        self._thread = None
        atexit.register(self.close)

    def put(self, row) -> None:
        """Queue one row (or one item for ``prepare``); never blocks, never raises."""
        if self._pid != _process["pid"] or self._thread is None:
            self._ensure_thread()
        if self.queue.qsize() >= self.max_queue:
            self.dropped += 1
            self._log_error("queue full")
            return
        self.queue.put(row)

    def when_started(self, fn) -> None:
        """Call ``fn()`` in the writer thread each time it starts (once per process)."""
        self._started_hooks.append(fn)

    def flush(self, timeout: float = 30) -> bool:
        """Wait until all rows queued so far are written (or dropped); True when done."""
        if self._thread is None or self._pid != _process["pid"]:
            return self.queue.empty()
        mark = _FlushMark()
        self.queue.put(mark)
        self._flush_now.set()  # no lingering for the rows already queued
        return mark.done.wait(timeout)

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
        with self._lock:  # a forked worker starts its own thread
            if self._pid != _process["pid"] or self._thread is None:
                self._pid = _process["pid"]
                self._thread = threading.Thread(target=self._run, name=f"writer-{self.name}",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        for hook in self._started_hooks:
            try:
                hook()
            except Exception:
                logger.exception("monitoring store %s: a start hook failed", self.name)
        while True:
            items = [self.queue.get()]
            if self.linger_s and not isinstance(items[0], _FlushMark) and self._flush_now.wait(self.linger_s):
                self._flush_now.clear()
            while len(items) < self.batch and not isinstance(items[-1], _FlushMark):
                try:
                    items.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            marks = [item for item in items if isinstance(item, _FlushMark)]
            rows = self._prepared([item for item in items if not isinstance(item, _FlushMark)])
            if rows:
                self._write(rows)
            for mark in marks:
                mark.done.set()

    def _prepared(self, items: list) -> list:
        """The rows of ``items`` (``prepare`` applied); an item it cannot turn into rows is dropped."""
        if self.prepare is None:
            return items
        rows = []
        for item in items:
            try:
                rows.extend(self.prepare(item))
            except Exception as exc:
                self.dropped += 1
                self._log_error(f"could not prepare a row: {type(exc).__name__}: {exc}")
        if self.after_prepare is not None:
            try:
                self.after_prepare()
            except Exception as exc:  # what it updates is secondary to the rows
                self._log_error(f"after preparing a batch: {type(exc).__name__}: {exc}")
        return rows

    def _write(self, rows: list[dict]) -> None:
        delay, transient_tries = 0.05, 0
        while True:
            try:
                self._check_file()
                with self.engine.begin() as conn:
                    if not insert_rows(conn, self.table, rows):  # SQLite: multi-row statements
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
                if self.queue.qsize() >= self.max_queue:  # nobody can queue meanwhile: give these up
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
        return sqlite_inode(self.engine)

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
