"""Rollup rows are kept longer than raw rows (PERF_ROLLUP_RETENTION_DAYS), then pruned.

Rollup tables (stores/rollups.py) have no id: their rows are deleted by their time
column, a run of about ``Chunks.rows`` rows per transaction, cut at a value.
"""
import time

from sqlalchemy import inspect, text

from flask_perf.stores.pruning import Chunks


def rollup_tiers(engine, tables) -> list[tuple[str, str]]:
    """(table, time column) of the store's rollups (stores/rollups.py): every tier has a
    ``period`` column, a summary (a name with ``rollup``) its ``last_at``; epoch seconds."""
    found, inspector = [], inspect(engine)
    for table in sorted(tables):
        columns = {c["name"] for c in inspector.get_columns(table)}
        if "period" in columns or ("rollup" in table and "last_at" in columns):
            found.append((table, "period" if "period" in columns else "last_at"))
    return found


def older_than(chunks: Chunks, table: str, column: str, days: float) -> int:
    """Delete rows whose ``column`` (epoch seconds) is older than ``days``, for tables
    without an id (rollups): a transaction per run of about ``Chunks.rows`` rows, cut
    at a value (rows sharing the last value go together)."""
    q, col = chunks.quote(table), chunks.quote(column)
    cutoff, deleted = time.time() - days * 86400, 0
    while True:
        values = chunks.select(f"SELECT {col} FROM {q} WHERE {col} < :cutoff ORDER BY {col} LIMIT :n",
                               cutoff=cutoff, n=chunks.rows)
        if not values:
            return deleted
        began = time.perf_counter()
        with chunks.writer.begin() as conn:
            deleted += conn.execute(text(f"DELETE FROM {q} WHERE {col} <= :last AND {col} < :cutoff"),
                                    {"last": values[-1][0], "cutoff": cutoff}).rowcount
        chunks.rest(began)
