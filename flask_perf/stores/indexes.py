"""Indexes for what the pages and commands ask the stores, and fresh planner statistics.

Flask-MonitoringDashboard 5.1 declares two indexes on ``Request`` (and rebuilds them at
import on its import-time engine when their names are missing), and none serves its
version pages (``GROUP BY version_requested``), the per-endpoint time, version and user
queries, or the joins from ``Outlier`` and ``ExceptionOccurrence``; the stores had no
planner statistics, so SQLite walked ``Request`` through the wrong index (the 7-day
median took 20.7 s at 5M rows, 0.23 s with these). ``ensure_indexes(engine, specs)``
creates the missing ones by name (``IF NOT EXISTS``: a worker that lost the race
changes nothing) and rebuilds one whose name is on other columns, with prefix lengths
on MariaDB for TEXT and long VARCHAR columns (index_ddl.py), drops the ``RETIRED`` ones
(index_specs.py), then refreshes the planner's statistics (statistics.py). Each store
calls it once at start, under the schema lock; a big table gets its missing indexes
from a background thread, so an old store's first start answers at once.
tests/test_store_indexes.py EXPLAINs the pages' queries against these indexes on
SQLite and MariaDB.
"""
import logging
import threading
import time

from sqlalchemy import inspect

from flask_perf.stores.engines import BUSY_TIMEOUT_MS
from flask_perf.stores.index_ddl import create_sql, execute, redefine, table_rows
from flask_perf.stores.index_specs import (DASHBOARD, PROFILER, RETIRED, SLOW_QUERIES,  # noqa: F401
                                           IndexSpec)
from flask_perf.stores.statistics import analyze

logger = logging.getLogger("flask_perf")
BACKGROUND_ROWS = 300_000  # larger tables get their missing indexes after start (~2 s of building)
BACKGROUND_DELAY_S = 15.0
BUILD_WAIT_MS = 600_000  # a build waits this long for another process's build of the same index


def ensure_indexes(engine, specs, background_rows: int = BACKGROUND_ROWS,
                   delay_s: float = BACKGROUND_DELAY_S) -> list[str]:
    """Create the indexes of ``specs`` that ``engine``'s store lacks and drop the ``RETIRED``
    ones of the same tables, then analyze; the names created. Tables that do not exist are
    skipped. On a table of more than ``background_rows`` rows (a store grown by an older
    release: minutes for 5M requests) a daemon thread does it ``delay_s`` after start: each
    index holds the write lock while it is built or dropped (writers queue their rows
    meanwhile), and the workers start first. Never raises: an index is an optimisation,
    and a read-only or locked store must not stop the app."""
    try:
        missing, retired = _missing(engine, specs), _retired(engine, specs)
        work = missing + retired
        if work and max(table_rows(engine, spec.table) for spec in work) > background_rows:
            threading.Thread(target=_create, args=(engine, missing, delay_s, retired), name="flask-perf-indexes",
                             daemon=True).start()
            return []
        if work:
            return _create(engine, missing, retired=retired)
        analyze(engine, wait_ms=200)  # at start: skipped when a long write holds the lock
        return []
    except Exception:
        logger.exception("flask_perf: could not create the monitoring store's indexes")
        return []


def _existing(engine, tables) -> dict[tuple[str, str], tuple[str, ...]]:
    """(table, lowercase index name) → its columns (lowercase)."""
    inspector = inspect(engine)
    return {(table, ix["name"].lower()): tuple(str(c).lower() for c in ix["column_names"])
            for table in set(tables) & set(inspector.get_table_names())
            for ix in inspector.get_indexes(table) if ix["name"]}


def _missing(engine, specs) -> list[IndexSpec]:
    """The specs the store lacks: no index of that name, or one on other columns."""
    tables = set(inspect(engine).get_table_names())
    existing = _existing(engine, {s.table for s in specs})
    return [s for s in specs if s.table in tables
            and existing.get((s.table, s.name.lower())) != tuple(c.lower() for c in s.columns)]


def _retired(engine, specs) -> list[IndexSpec]:
    """The ``RETIRED`` indexes the store still has on the tables of ``specs``."""
    existing = _existing(engine, {s.table for s in specs})
    return [s for s in RETIRED if (s.table, s.name.lower()) in existing]


def _create(engine, missing: list[IndexSpec], delay_s: float = 0.0, retired=()) -> list[str]:
    time.sleep(delay_s)
    sqlite = engine.dialect.name == "sqlite"
    connection = engine.raw_connection()
    try:
        if sqlite:  # another process building the same index: wait for it, then nothing to do
            connection.driver_connection.execute(f"PRAGMA busy_timeout={BUILD_WAIT_MS}")
        inspector, quote = inspect(engine), engine.dialect.identifier_preparer.quote
        existing = _existing(engine, {s.table for s in missing})
        for spec in missing:  # autocommit (DDL commits on MariaDB): writers get turns in between
            if (spec.table, spec.name.lower()) in existing:
                redefine(connection, engine, inspector, spec)
            else:
                execute(connection, create_sql(engine, inspector, spec))
        for spec in retired:  # after the new ones: queries keep an index meanwhile
            execute(connection, f"DROP INDEX IF EXISTS {quote(spec.name)}"
                                 + ("" if sqlite else f" ON {quote(spec.table)}"))
        created = [spec.name for spec in missing]
        changes = [f"created indexes {', '.join(created)}"] if created else []
        changes += [f"removed retired indexes {', '.join(s.name for s in retired)}"] if retired else []
        if changes:
            logger.info("flask_perf: %s on %s", "; ".join(changes), engine.url.render_as_string(hide_password=True))
        analyze(engine, {s.table for s in [*missing, *retired]})
        return created
    except Exception:
        logger.exception("flask_perf: could not create the monitoring store's indexes")
        return []
    finally:
        if sqlite:
            connection.driver_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        connection.close()
