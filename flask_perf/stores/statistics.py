"""Fresh planner statistics for a store: without them SQLite picked the wrong index.

SQLite: ``ANALYZE`` with an ``analysis_limit`` (a sample of each index: milliseconds on
millions of rows), run at each start (indexes.py) and after each prune (retention.py).
MariaDB: ``ANALYZE TABLE`` for the tables that just got an index (InnoDB keeps its
statistics current by itself otherwise).
"""
import sqlite3

from flask_perf.stores.engines import BUSY_TIMEOUT_MS

ANALYSIS_LIMIT = 1000  # rows SQLite's ANALYZE samples per index


def analyze(engine, tables=(), wait_ms: int | None = None) -> None:
    """Refresh the planner's statistics: SQLite samples every table (``wait_ms``: give up
    when the write lock is not free by then); MariaDB analyzes ``tables``."""
    if engine.dialect.name == "sqlite":
        connection = engine.raw_connection()
        raw = connection.driver_connection
        try:  # autocommit: ANALYZE takes the write lock when it starts
            if wait_ms is not None:
                raw.execute(f"PRAGMA busy_timeout={wait_ms}")
            raw.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
            raw.execute("ANALYZE")
        except sqlite3.OperationalError:
            if wait_ms is None:
                raise
        finally:
            raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            connection.close()
    elif tables:
        quote = engine.dialect.identifier_preparer.quote
        with engine.connect() as conn:
            conn.exec_driver_sql(f"ANALYZE TABLE {', '.join(quote(t) for t in sorted(tables))}").fetchall()
