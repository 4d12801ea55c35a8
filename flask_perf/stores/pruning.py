"""Deleting from a live store in short transactions: old rows, surplus rows, surplus stacks.

Pruning 4M rows in one transaction held the write lock for 280 s: every writer of the
app waited, level-3 stacks were dropped, ``/roster``'s p99 went from 27 to 178 ms. Here
the ids to delete are read outside any write transaction (window by window of the time
column, through its index), and deleted with their dependent rows (``children``: tables
with a ``request_id``) in transactions of at most ``Chunks.rows`` ids each
(PERF_PRUNE_CHUNK_ROWS, 500: in a store of 1M requests at level 3 such a transaction
held the write lock 19 ms, 38 ms at p95, on two busy cores; 1,000 ids took 29/69 ms,
2,000 ids 50-60 ms). After each, the WAL is checkpointed outside the lock and the
pruner pauses as long as the transaction took, so writers waiting on SQLite's busy
handler get the lock at least half of the time. Rows that a rollup backfill
(backfill.py) has not rolled up yet are never deleted.
"""
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import bindparam, event, inspect, text
from sqlalchemy.types import DateTime

BACKFILL = "perf_rollup_backfill"
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime in SQLite


@dataclass
class Chunks:
    """Deletes ``rows`` ids per transaction and remembers how long each one held the lock."""
    reader: object  # engine: deferred transactions, reads never take the write lock
    writer: object  # engine: each transaction takes the write lock when it begins
    rows: int = 500
    min_pause_s: float = 0.01
    held_s: list = field(default_factory=list)

    def __post_init__(self):
        if self.writer.dialect.name == "sqlite":  # checkpoints run between chunks, not in them
            event.listen(self.writer, "connect",
                         lambda dbapi, _record: dbapi.execute("PRAGMA wal_autocheckpoint=0"))

    def quote(self, name: str) -> str:
        return self.writer.dialect.identifier_preparer.quote(name)

    def select(self, sql: str, **params) -> list:
        with self.reader.connect() as conn:
            return conn.execute(text(sql), params).all()

    def delete(self, table: str, ids: list, children=(), key: str = "id") -> int:
        """Delete the rows of ``table`` whose ``key`` is in ``ids``, and their children, chunk by
        chunk; the rows of ``table`` deleted."""
        deleted = 0
        for start in range(0, len(ids), self.rows):
            chunk = {"ids": ids[start:start + self.rows]}
            began = time.perf_counter()
            with self.writer.begin() as conn:
                for child in children:
                    conn.execute(_in(f"DELETE FROM {self.quote(child)} WHERE request_id IN :ids"), chunk)
                deleted += conn.execute(_in(f"DELETE FROM {self.quote(table)} WHERE {key} IN :ids"),
                                        chunk).rowcount
            self.rest(began)
        return deleted

    def rest(self, began: float) -> None:
        """After a transaction: note how long it held the lock, checkpoint the WAL (without
        the write lock), and leave the lock to the app's writers at least as long."""
        held = time.perf_counter() - began
        self.held_s.append(held)
        if self.writer.dialect.name == "sqlite":
            raw = self.writer.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                raw.close()
        time.sleep(max(held, self.min_pause_s))


def _in(sql: str):
    return text(sql).bindparams(bindparam("ids", expanding=True))


def older_than(chunks: Chunks, table: str, column: str, children, days: float) -> int:
    """Delete rows whose ``column`` (a datetime, or epoch seconds) is older than ``days``.

    The ids are read window by window of ``column`` (through its index), each window
    sized to hold about ``Chunks.rows`` rows. The windows' bounds are ours, never values
    read back: MariaDB's FLOAT (SQLAlchemy's ``Float``) returns epoch seconds rounded to
    six digits, and a cursor built from them skipped rows."""
    types = {c["name"]: c["type"] for c in inspect(chunks.reader).get_columns(table)}
    as_value = _datetime_value(chunks) if isinstance(types.get(column), DateTime) else float
    q, col, cap = chunks.quote(table), chunks.quote(column), _backfill_cap(chunks)
    cutoff = time.time() - days * 86400
    oldest = chunks.select(f"SELECT MIN({col}) FROM {q} WHERE {col} < :cutoff", cutoff=as_value(cutoff))[0][0]
    if oldest is None:
        return 0
    start = _epoch(oldest) - 86400  # a day of slack for a rounded value
    width, deleted = 3600.0, 0
    while start < cutoff:
        end = min(start + width, cutoff)
        ids = [row[0] for row in chunks.select(
            f"SELECT id FROM {q} WHERE {col} >= :start AND {col} < :end"
            + (" AND id <= :cap" if cap is not None else ""),
            start=as_value(start), end=as_value(end), cap=cap)]
        deleted += chunks.delete(table, ids, children)
        if len(ids) > 4 * chunks.rows:
            width = max(1.0, width / 2)
        elif len(ids) < chunks.rows // 2:
            width *= 2
        start = end
    return deleted


def _datetime_value(chunks: Chunks):
    """Epoch seconds → how the store compares a naive UTC DateTime (SQLite: its text)."""
    def value(epoch: float):
        moment = datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None)
        return moment.strftime(SQLITE_DATETIME) if chunks.reader.dialect.name == "sqlite" else moment
    return value


def _epoch(value) -> float:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc).timestamp()
    return float(value)


def beyond_newest(chunks: Chunks, table: str, children, max_rows: int) -> int:
    """Delete the oldest rows (by id) beyond the newest ``max_rows``."""
    q = chunks.quote(table)
    last = chunks.select(f"SELECT id FROM {q} ORDER BY id DESC LIMIT 1 OFFSET :n", n=max_rows)
    if not last:
        return 0
    cap = _backfill_cap(chunks)
    last_id = min(last[0][0], cap) if cap is not None else last[0][0]
    deleted, after = 0, None
    while True:
        rows = chunks.select(f"SELECT id FROM {q} WHERE id <= :last"
                             + (" AND id > :after" if after is not None else "") + " ORDER BY id LIMIT :n",
                             last=last_id, after=after, n=chunks.rows)
        if not rows:
            return deleted
        deleted += chunks.delete(table, [r[0] for r in rows], children)
        after = rows[-1][0]


def _backfill_cap(chunks: Chunks) -> int | None:
    """The highest raw id a pending backfill has rolled up (None: nothing pending)."""
    if BACKFILL not in inspect(chunks.reader).get_table_names():
        return None
    rows = chunks.select(f"SELECT MIN(done_id) FROM {chunks.quote(BACKFILL)} WHERE done_id < high_id")
    return rows[0][0] if rows and rows[0][0] is not None else None
