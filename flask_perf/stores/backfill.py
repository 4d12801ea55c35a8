"""Rolling up the history of a store written before rollups existed, in the background.

Where each source stands (``progress``: rolled up to ``done_id`` of ``high_id``) and
what a release that adds tiers does is backfill_marker.py. ``Backfill`` runs in a
daemon thread per process, started with its store writer's thread (the first
request stored; the app answers at once): chunks of PERF_ROLLUP_BACKFILL_CHUNK rows
(default 50,000) are read and aggregated outside any write transaction, then written with
the progress marker in one short transaction, PERF_ROLLUP_BACKFILL_PAUSE_S apart. Workers
share the job through a lease on the progress row (one works, the others wait; a dead
one's lease expires), and the marker only moves from the value a worker read, so a chunk
is never applied twice; ``flask perf status`` shows the marker (status.py). A subclass
fills other derived tables the same way (``read_chunk`` and ``apply``).
"""
import logging
import os
import socket
import threading
import time

from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError

from flask_perf.stores.backfill_marker import filling, pending, progress, start_marker  # noqa: F401
from flask_perf.stores.engines import store_engine
from flask_perf.stores.rollups import Source, aggregate, write

logger = logging.getLogger("flask_perf")
LEASE_S, BUSY_WAIT_S, ERROR_WAIT_S = 60.0, 2.0, 30.0
_starting = threading.Lock()


class Backfill:
    def __init__(self, url: str, source: Source, chunk: int = 50_000, pause_s: float = 0.05):
        self.url, self.source, self.chunk, self.pause_s = url, source, max(1, chunk), pause_s
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"[:128]
        self._pid = None
        self.done = False

    def ensure_started(self) -> None:
        """Start the background roll-up in this process, once (a forked worker starts its own)."""
        if self.done or self._pid == os.getpid():
            return
        with _starting:  # two writer threads may store their first rows at once
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"[:128]
        threading.Thread(target=self._run, name=f"rollup-backfill-{self.source.name}", daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                self.run()
                return
            except Exception as exc:
                if isinstance(exc, OperationalError) and "locked" in str(exc.orig):
                    # Another process holds the write lock for long (an index of a big table
                    # built on first start): an expected wait, no traceback.
                    logger.info("rolling up the history of %s waits for the store's write lock", self.source.name)
                else:
                    logger.exception("rolling up the history of %s failed; retrying", self.source.name)
                time.sleep(ERROR_WAIT_S)

    def run(self) -> None:
        """Roll up every older row; returns when none is left (also when another worker did it)."""
        reader, writer = store_engine(self.url, immediate=False), store_engine(self.url)
        try:
            while not self.done:
                if self.step(reader, writer) and self.pause_s:
                    time.sleep(self.pause_s)
        finally:
            reader.dispose()
            writer.dispose()

    def step(self, reader, writer) -> bool:
        """One chunk; False when there was nothing this worker could do right now."""
        with reader.connect() as conn:
            mark = conn.execute(select(progress).where(progress.c.source == self.source.name)).first()
        if mark is None or mark.done_id >= mark.high_id:
            self.done = True
            return False
        if not self._claim(writer):
            time.sleep(BUSY_WAIT_S)  # another worker holds the lease
            return False
        with reader.connect() as conn:
            work, last, count = self.read_chunk(conn, mark)
        now = time.time()
        with writer.begin() as conn:
            moved = conn.execute(update(progress).where(
                progress.c.source == self.source.name, progress.c.done_id == mark.done_id).values(
                done_id=last, rows_done=progress.c.rows_done + count, lease_until=now + LEASE_S,
                finished_at=now if last >= mark.high_id else None)).rowcount
            if moved == 1:
                self.apply(conn, work, mark)
        return moved == 1

    def read_chunk(self, conn, mark) -> tuple[object, int, int]:
        """(what to write, the last raw id it covers, raw rows) of the next chunk, read
        and aggregated outside the write transaction (only the tiers being filled)."""
        raw = self.source.raw
        rows = conn.execute(select(*self.source.raw_columns())
                            .where(raw.c.id > mark.done_id, raw.c.id <= mark.high_id)
                            .order_by(raw.c.id).limit(self.chunk)).mappings().all()
        last = rows[-1]["id"] if rows else mark.high_id
        return aggregate(self.source, rows, filling(self.source, mark.layout)), last, len(rows)

    def apply(self, conn, work, mark) -> None:
        """Write a chunk in the transaction that moves the marker."""
        write(conn, self.source, work)

    def _claim(self, writer) -> bool:
        now = time.time()
        with writer.begin() as conn:
            return conn.execute(update(progress).where(
                progress.c.source == self.source.name,
                or_(progress.c.owner.is_(None), progress.c.owner == self.owner,
                    progress.c.lease_until < now)).values(owner=self.owner, lease_until=now + LEASE_S)
            ).rowcount == 1
