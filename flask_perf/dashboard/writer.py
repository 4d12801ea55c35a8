"""Flask-MonitoringDashboard's writes, made safe to leave on.

Stock FMD starts one thread per request at level 1 and commits through a
``session_scope`` whose "retry" rolls back and silently loses the row when the
store is locked. Here:
- level 1 (production, testing): level1.py's wrapper queues what it timed on a
  BatchWriter (no thread per request, batched inserts, retried while the store is
  down); the writer thread builds the Request row (``level1.rows``), and stores a
  request whose view raised a real error through FMD's code, with its exception;
- its cache flush (each endpoint's last request time) is retried when MariaDB
  resolves a deadlock by rolling it back;
- every other FMD write (level 3 call stacks, outliers, exceptions) goes through
  a ``session_scope`` that never raises, counts what it drops and logs once a
  minute, and lets one FMD thread per process write at a time: with a thread per
  request, dozens of open write transactions starved of the GIL held SQLite's
  lock past the busy timeout under load; level-3 stacks (stacks.py) on a kept
  connection (``writing_connection``: opening one costs ~0.7 ms, a stack ~1 ms);
- every Request row is rolled up (hour, day, summary) in the transaction that
  inserts it (rollups.py).
"""
import atexit
import contextlib
import logging
import os
import threading
import time

from flask_perf.dashboard import level1, rollups
from flask_perf.stores.engines import health_dir, sqlite_inode, store_engine
from flask_perf.stores.writer import BatchWriter, Throttle, is_transient

logger = logging.getLogger("flask_perf")


class DroppedWrites:
    def __init__(self):
        self.count = 0
        self.last_error: str | None = None
        self._log = Throttle()

    def add(self, exc: Exception) -> None:
        self.count += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if self._log.due():
            logger.error("dashboard store write failed (%s); %d writes dropped so far",
                         self.last_error, self.count, exc_info=exc)


_state = {"writer": None, "engine": None, "url": None, "pooled": None, "dropped": DroppedWrites()}
_one_writer = threading.RLock()


@contextlib.contextmanager
def writing_session():
    """A session on the store, this process's FMD writes taking turns; commit or raise."""
    from flask_monitoringdashboard.database import DBSession

    with _one_writer:
        session = DBSession(bind=_state["engine"])  # BEGIN IMMEDIATE: waits for the lock
        try:
            yield session
            session.commit()
        except Exception:
            session.rollback()
            raise
        finally:
            session.close()


@contextlib.contextmanager
def writing_connection():
    """A kept connection on the store (FMD's writes taking turns) for stacks.py's transactions;
    a SQLite file replaced since the last use is found again, a forked worker connects anew."""
    with _one_writer:
        pid, engine, inode = _state["pooled"] or (None, None, None)
        if pid != os.getpid():
            engine = store_engine(_state["url"])
        now = sqlite_inode(engine)
        if now != inode and pid == os.getpid():
            engine.dispose()
        _state["pooled"] = (os.getpid(), engine, now)
        with engine.connect() as conn:
            yield conn


def count_drop(exc: Exception) -> None:
    _state["dropped"].add(exc)  # logged once a minute; `flask perf status` shows the count


@contextlib.contextmanager
def safe_session_scope():
    """FMD's session_scope without the silent loss: commit, or count the drop; never raise."""
    try:
        with writing_session() as session:
            yield session
    except Exception as exc:
        _state["dropped"].add(exc)


def flush_cache(attempts: int = 5) -> None:
    """FMD's ``flush_cache`` (each endpoint's last request time, written at exit and by
    its pages), retried when MariaDB picks it as a deadlock victim: workers flushing at
    once while others insert their requests deadlock now and then, and the stock
    scope would give the update up."""
    from flask_monitoringdashboard.core import cache
    from flask_monitoringdashboard.database.endpoint import update_last_requested

    times = sorted((name, info.last_requested) for name, info in list(cache.memory_cache.items())
                   if info.last_requested)
    for attempt in range(attempts):
        try:
            with writing_session() as session:
                for name, when in times:
                    update_last_requested(session, name, when)
            return
        except Exception as exc:
            if attempt == attempts - 1 or not is_transient(exc):
                _state["dropped"].add(exc)
                return
        time.sleep(0.02 * 2 ** attempt)


def replacing_flush_cache(current, _app):
    """Our ``flush_cache`` in place of ``current``, which leaves the exit hooks (fmd.bind
    registers ``cache.flush_cache`` there: ours, once patched)."""
    if current is not flush_cache:
        atexit.unregister(current)
    return flush_cache


def install(app, url: str) -> BatchWriter:
    """Our writers on the store at ``url``; patches.py routes FMD's writes through them.
    FMD's state is per process: the last app wins.

    The batch writer and the level-3 stacks keep their connections (opening a SQLite
    connection in WAL mode costs more than the writes); FMD's other writes (rare) take a
    connection each. A deleted or replaced store file is found again, and every
    transaction takes the write lock when it begins."""
    from flask_monitoringdashboard.database import Request

    writer = BatchWriter(store_engine(url), Request.__table__, "dashboard", health_dir=health_dir(app),
                         on_batch=rollups.SOURCE,  # each batch rolled up in its transaction
                         prepare=level1.rows,  # what level1.py's wrapper queued -> Request rows
                         after_prepare=level1.update_duration_cache)
    if _state["pooled"] and _state["pooled"][0] == os.getpid():  # another app's store before
        _state["pooled"][1].dispose()
    _state.update(writer=writer, engine=store_engine(url, pooled=False), url=url, pooled=None)
    rollups.install(app, url, writer)
    app.extensions["flask_perf"].writers["dashboard"] = writer
    app.extensions["flask_perf"].dashboard_dropped = _state["dropped"]
    return writer
