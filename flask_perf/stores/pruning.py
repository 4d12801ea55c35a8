"""Deleting from a live store in short transactions: old rows, surplus rows, surplus stacks.

Pruning 4M rows in one transaction held the write lock for 280 s: every writer of the
app waited, level-3 stacks were dropped, ``/roster``'s p99 went from 27 to 178 ms. Here
the ids to delete are read outside any write transaction, a chunk at a time (through the
index on the time column, resuming where the last chunk ended), and each chunk is
deleted with its dependent rows (``children``: tables with a ``request_id``) in one
transaction of at most ``Chunks.rows`` ids; after each, the pruner pauses as long as the
transaction took, so writers waiting on SQLite's busy handler get the lock at least half
of the time. Rows not rolled up yet by a backfill (backfill.py) are never deleted.
"""
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import bindparam, inspect, text
from sqlalchemy.types import DateTime

BACKFILL = "perf_rollup_backfill"
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime in SQLite


@dataclass
class Chunks:
    """Deletes ``rows`` ids per transaction and remembers how long each one held the lock."""
    reader: object  # engine: deferred transactions, reads never take the write lock
    writer: object  # engine: each transaction takes the write lock when it begins
    rows: int = 2000
    min_pause_s: float = 0.01
    held_s: list = field(default_factory=list)

    def quote(self, name: str) -> str:
        return self.writer.dialect.identifier_preparer.quote(name)

    def select(self, sql: str, **params) -> list:
        with self.reader.connect() as conn:
            return conn.execute(text(sql), params).all()

    def delete(self, table: str, ids: list, children=(), key: str = "id") -> int:
        """Delete ``ids`` of ``table`` (matched on ``key``) and their children, chunk by chunk."""
        for start in range(0, len(ids), self.rows):
            chunk = {"ids": ids[start:start + self.rows]}
            began = time.perf_counter()
            with self.writer.begin() as conn:
                for child in children:
                    conn.execute(_in(f"DELETE FROM {self.quote(child)} WHERE request_id IN :ids"), chunk)
                conn.execute(_in(f"DELETE FROM {self.quote(table)} WHERE {key} IN :ids"), chunk)
            held = time.perf_counter() - began
            self.held_s.append(held)
            time.sleep(max(held, self.min_pause_s))  # writers get their turn
        return len(ids)


def _in(sql: str):
    return text(sql).bindparams(bindparam("ids", expanding=True))


def older_than(chunks: Chunks, table: str, column: str, children, days: float) -> int:
    """Delete rows whose ``column`` (a datetime, or epoch seconds) is older than ``days``."""
    types = {c["name"]: c["type"] for c in inspect(chunks.reader).get_columns(table)}
    cutoff = time.time() - days * 86400
    if isinstance(types.get(column), DateTime):  # FMD's naive UTC; on SQLite the text it stores
        cutoff = datetime.fromtimestamp(cutoff, timezone.utc).replace(tzinfo=None)
        if chunks.reader.dialect.name == "sqlite":
            cutoff = cutoff.strftime(SQLITE_DATETIME)
    q, col, cap = chunks.quote(table), chunks.quote(column), _backfill_cap(chunks)
    deleted, since = 0, None
    while True:
        rows = chunks.select(
            f"SELECT id, {col} FROM {q} WHERE {col} < :cutoff" + (f" AND {col} >= :since" if since is not None else "")
            + (" AND id <= :cap" if cap is not None else "") + f" ORDER BY {col} LIMIT :n",
            cutoff=cutoff, since=since, cap=cap, n=chunks.rows)
        if not rows:
            return deleted
        deleted += chunks.delete(table, [r[0] for r in rows], children)
        since = rows[-1][1]  # the rows at ``since`` not yet seen come again; the deleted ones do not


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
        rows = chunks.select(f"SELECT id FROM {q} WHERE id <= :last" + (" AND id > :after" if after else "")
                             + " ORDER BY id LIMIT :n", last=last_id, after=after, n=chunks.rows)
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
