"""Retention: monitoring data bounded by age and by row count, pruned by the app itself.

Reads PERF_RETENTION_DAYS (default 30), PERF_RETENTION_MAX_ROWS (per store's main
table, default 1,000,000) and PERF_PRUNE_INTERVAL_S (default 3600; 0 leaves
pruning to ``flask --app wsgi monitoring prune``). The oldest rows go first; the
dashboard's dependent rows (call stacks, outliers, exceptions) go with their request.
Nothing here is reachable over HTTP.
"""
import logging
import os
import threading
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import inspect, text

from flask_perf.stores.engines import sqlite_file_missing, store_engine, store_url
from flask_perf.stores.registry import stores

logger = logging.getLogger("flask_perf")


def _cutoff_id(conn, table: str, max_rows: int) -> int | None:
    """Highest id to delete so that ``max_rows`` newest rows remain (None: nothing)."""
    return conn.execute(text(f"SELECT id FROM {table} ORDER BY id DESC LIMIT 1 OFFSET :n"),
                        {"n": max_rows}).scalar()


def prune_store(url: str, table: str, time_column: str, children, days: float, max_rows: int) -> int:
    engine = store_engine(url)
    try:
        if table not in inspect(engine).get_table_names():
            return 0
        cutoff = datetime.now(timezone.utc) - timedelta(days=days)
        when = cutoff.replace(tzinfo=None) if table == "Request" else cutoff.timestamp()
        quote = engine.dialect.identifier_preparer.quote  # "Request" on SQLite, `Request` on MariaDB
        table, children = quote(table), [quote(child) for child in children]
        with engine.begin() as conn:
            old = f"SELECT id FROM {table} WHERE {time_column} < :when"
            params = {"when": when}
            if (last := _cutoff_id(conn, table, max_rows)) is not None:
                old += " OR id <= :last"
                params["last"] = last
            ids = [row[0] for row in conn.execute(text(old), params)]
            for start in range(0, len(ids), 5000):
                chunk = {"ids": ids[start:start + 5000]}
                for child in children:
                    conn.execute(text(f"DELETE FROM {child} WHERE request_id IN :ids")
                                 .bindparams(_expanding()), chunk)
                conn.execute(text(f"DELETE FROM {table} WHERE id IN :ids").bindparams(_expanding()),
                             chunk)
        return len(ids)
    finally:
        engine.dispose()


def _expanding():
    from sqlalchemy import bindparam
    return bindparam("ids", expanding=True)


def prune(app) -> dict[str, int]:
    """Delete what is older or more than the configured bounds; rows deleted per table."""
    days = float(app.config.get("PERF_RETENTION_DAYS", 30))
    max_rows = int(app.config.get("PERF_RETENTION_MAX_ROWS", 1_000_000))
    deleted = {}
    for store in stores(app):
        url = store_url(app, store.config_key, store.filename)
        if sqlite_file_missing(url):
            continue
        for table, column, children in store.prune:
            deleted[table] = prune_store(url, table, column, children, days, max_rows)
    return deleted


class Pruner:
    """Prunes every PERF_PRUNE_INTERVAL_S in a daemon thread, one per process."""

    def __init__(self, app):
        self.app, self.interval = app, float(app.config.get("PERF_PRUNE_INTERVAL_S", 3600))
        self._pid = None

    def ensure_started(self) -> None:
        if self.interval > 0 and self._pid != os.getpid():
            self._pid = os.getpid()
            threading.Thread(target=self._run, name="monitoring-pruner", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            try:
                deleted = prune(self.app)
                if any(deleted.values()):
                    logger.info("pruned monitoring data: %s", deleted)
            except Exception:
                logger.exception("pruning the monitoring stores failed")


def init_app(app) -> None:
    pruner = Pruner(app)
    app.before_request(pruner.ensure_started)
