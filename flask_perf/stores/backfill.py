"""Rolling up the history of a store written before rollups existed, in the background.

When a source's rollup tables are first created in a store, ``start_marker`` records
the highest raw id there is (``high_id``): the writers roll up every newer row as they
insert it, the backfill every row up to it, so nothing is counted twice. ``Backfill``
runs in a daemon thread per process, started with its store writer's thread (the first
request stored; the app answers at once): chunks of PERF_ROLLUP_BACKFILL_CHUNK rows
(default 50,000) are read and aggregated outside any write transaction, then written with
the progress marker in one short transaction, PERF_ROLLUP_BACKFILL_PAUSE_S apart. Workers
share the job through a lease on the progress row (one works, the others wait; a dead
one's lease expires), and the marker only moves from the value a worker read, so a chunk
is never applied twice; ``flask perf status`` shows the marker (status.py). The marker
names the source's tier tables: when a release changes them, they are emptied and
rebuilt the same way from the raw rows still kept.
"""
import logging
import os
import socket
import threading
import time

from sqlalchemy import (BigInteger, Column, Double, MetaData, String, Table, delete, func, insert,
                        or_, select, update)
from sqlalchemy.exc import IntegrityError

from flask_perf.stores.engines import store_engine
from flask_perf.stores.rollups import Source, aggregate, write

logger = logging.getLogger("flask_perf")
LEASE_S, BUSY_WAIT_S, ERROR_WAIT_S = 60.0, 2.0, 30.0
metadata = MetaData()
progress = Table(
    "perf_rollup_backfill", metadata,
    Column("source", String(64), primary_key=True),
    Column("low_id", BigInteger, nullable=False), Column("high_id", BigInteger, nullable=False),
    Column("done_id", BigInteger, nullable=False), Column("rows_done", BigInteger, nullable=False),
    Column("started_at", Double, nullable=False), Column("finished_at", Double),
    Column("owner", String(128)), Column("lease_until", Double, nullable=False, default=0.0),
    Column("layout", String(512), nullable=False, default=""),  # the tier tables, comma-separated
)


def start_marker(engine, source: Source) -> None:
    """Record where the writers' rollups begin (once per store and source). A source whose
    tiers changed since (a release added one) has them all rebuilt from the raw rows."""
    metadata.create_all(engine)
    raw_id, layout = source.raw.c.id, ",".join(tier.table.name for tier in source.tiers)
    mine = progress.c.source == source.name
    try:
        with engine.begin() as conn:
            if (mark := conn.execute(select(progress.c.layout).where(mine)).first()) is not None:
                if mark.layout == layout:
                    return
                for tier in source.tiers:
                    conn.execute(delete(tier.table))
                conn.execute(delete(progress).where(mine))
            high = conn.execute(select(func.max(raw_id))).scalar() or 0  # one index probe each
            low = conn.execute(select(func.min(raw_id))).scalar() or 0
            now = time.time()
            conn.execute(insert(progress).values(
                source=source.name, low_id=low, high_id=high, done_id=max(0, low - 1) if high else 0,
                rows_done=0, started_at=now, finished_at=None if high else now, layout=layout))
    except IntegrityError:  # another worker recorded it first: its marker holds
        pass


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
        self._pid = os.getpid()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"[:128]
        threading.Thread(target=self._run, name=f"rollup-backfill-{self.source.name}", daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                self.run()
                return
            except Exception:
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
        raw = self.source.raw
        with reader.connect() as conn:
            rows = conn.execute(select(*self.source.raw_columns())
                                .where(raw.c.id > mark.done_id, raw.c.id <= mark.high_id)
                                .order_by(raw.c.id).limit(self.chunk)).mappings().all()
        last = rows[-1]["id"] if rows else mark.high_id
        cells = aggregate(self.source, rows)
        now = time.time()
        with writer.begin() as conn:
            moved = conn.execute(update(progress).where(
                progress.c.source == self.source.name, progress.c.done_id == mark.done_id).values(
                done_id=last, rows_done=progress.c.rows_done + len(rows), lease_until=now + LEASE_S,
                finished_at=now if last >= mark.high_id else None)).rowcount
            if moved == 1:
                write(conn, self.source, cells)
        return moved == 1

    def _claim(self, writer) -> bool:
        now = time.time()
        with writer.begin() as conn:
            return conn.execute(update(progress).where(
                progress.c.source == self.source.name,
                or_(progress.c.owner.is_(None), progress.c.owner == self.owner,
                    progress.c.lease_until < now)).values(owner=self.owner, lease_until=now + LEASE_S)
            ).rowcount == 1


def pending(engine, source: Source) -> bool:
    """Older rows of the store are not all rolled up yet (``engine``: also a Connection)."""
    query = select(progress).where(progress.c.source == source.name)
    if hasattr(engine, "in_transaction"):  # a Connection
        mark = engine.execute(query).first()
    else:
        with engine.connect() as conn:
            mark = conn.execute(query).first()
    return mark is not None and mark.done_id < mark.high_id
