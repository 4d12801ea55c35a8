"""Indexes for what the pages and commands ask the stores, and fresh planner statistics.

Flask-MonitoringDashboard 5.1 declares two indexes on ``Request`` and creates them only
on its own import-time engine, and none serves its version pages (``GROUP BY
version_requested``), the per-endpoint time, version and user queries, or the joins
from ``Outlier`` and ``ExceptionOccurrence``; the stores had no planner statistics,
so SQLite walked ``Request`` through the wrong index (the 7-day median took 20.7 s at
5M rows, 0.23 s with these). ``ensure_indexes(engine, specs)`` creates the missing ones
by name (``IF NOT EXISTS``: a worker that lost the race changes nothing), with prefix
lengths on MariaDB for TEXT and long VARCHAR columns, then refreshes the planner's
statistics (statistics.py). Each store calls it once at start, under the schema lock;
a big table gets its missing indexes from a background thread, so an old store's
first start answers at once. tests/test_store_indexes.py EXPLAINs the pages' queries
against these indexes on SQLite and MariaDB.
"""
import logging
import threading
import time
from dataclasses import dataclass

from sqlalchemy import String, Text, inspect, text

from flask_perf.stores.engines import BUSY_TIMEOUT_MS
from flask_perf.stores.statistics import analyze

logger = logging.getLogger("flask_perf")
MYSQL_PREFIX = 255  # characters of a TEXT / long VARCHAR column that MariaDB indexes
BACKGROUND_ROWS = 300_000  # larger tables get their missing indexes after start (~2 s of building)
BACKGROUND_DELAY_S = 15.0
BUILD_WAIT_MS = 600_000  # a build waits this long for another process's build of the same index


@dataclass(frozen=True)
class IndexSpec:
    name: str
    table: str
    columns: tuple[str, ...]


DASHBOARD = (  # Flask-MonitoringDashboard's tables (FMD's own two first, for stores made before 5.1)
    IndexSpec("ix_request_endpoint_duration", "Request", ("endpoint_id", "duration")),
    IndexSpec("ix_request_time_endpoint", "Request",
              ("time_requested", "endpoint_id", "status_code", "duration")),
    # one endpoint's hourly load, its profiled requests newest first; retention's age window
    IndexSpec("ix_perf_request_endpoint_time", "Request", ("endpoint_id", "time_requested")),
    IndexSpec("ix_perf_request_endpoint_status", "Request", ("endpoint_id", "status_code")),  # its errors
    # versions list, multi_version (per version, per endpoint), test-run labels of the report
    IndexSpec("ix_perf_request_version", "Request", ("version_requested", "endpoint_id", "time_requested")),
    # The endpoint page's versions, users and IP tabs read 40 % of the table for the busiest
    # endpoint: only an index that covers the columns they read beats a full scan there.
    IndexSpec("ix_perf_request_endpoint_version", "Request",
              ("endpoint_id", "version_requested", "time_requested", "duration")),
    IndexSpec("ix_perf_request_endpoint_group", "Request",
              ("endpoint_id", "group_by", "version_requested", "duration")),
    IndexSpec("ix_perf_request_endpoint_ip", "Request",
              ("endpoint_id", "ip", "version_requested", "duration")),
    IndexSpec("ix_perf_outlier_request", "Outlier", ("request_id",)),
    IndexSpec("ix_perf_exception_request", "ExceptionOccurrence", ("request_id",)),
)  # StackLine's primary key (request_id, position) serves every lookup by request
PROFILER = (
    IndexSpec("ix_measurements_started_at", "measurements", ("started_at",)),
    IndexSpec("ix_perf_measurements_ended", "measurements", ("ended_at",)),  # newest first, one page
    # counts over a time range (timeseries, method distribution) from the index alone
    IndexSpec("ix_perf_measurements_time", "measurements", ("started_at", "ended_at", "method")),
    IndexSpec("ix_perf_measurements_name_started", "measurements", ("name", "started_at")),
)
SLOW_QUERIES = (
    IndexSpec("ix_perf_slow_query_dialect_time", "slow_query", ("dialect", "recorded_at")),
    IndexSpec("ix_perf_slow_query_version", "slow_query", ("app_version",)),
)


def ensure_indexes(engine, specs, background_rows: int = BACKGROUND_ROWS,
                   delay_s: float = BACKGROUND_DELAY_S) -> list[str]:
    """Create the indexes of ``specs`` that ``engine``'s store lacks, then analyze; the names
    created. Tables that do not exist are skipped. On a table of more than
    ``background_rows`` rows (a store grown by an older release: minutes for 5M requests)
    they are built by a daemon thread ``delay_s`` after start: each holds the write lock
    while it is built (writers queue their rows meanwhile), and the workers start first.
    Never raises: an index is an optimisation, and a read-only or locked store must not
    stop the app."""
    try:
        missing = _missing(engine, specs)
        if missing and max(_rows(engine, spec.table) for spec in missing) > background_rows:
            threading.Thread(target=_create, args=(engine, missing, delay_s), name="flask-perf-indexes",
                             daemon=True).start()
            return []
        if missing:
            return _create(engine, missing)
        analyze(engine, wait_ms=200)  # at start: skipped when a long write holds the lock
        return []
    except Exception:
        logger.exception("flask_perf: could not create the monitoring store's indexes")
        return []


def _missing(engine, specs) -> list[IndexSpec]:
    inspector = inspect(engine)
    tables = set(inspector.get_table_names())
    existing = {(table, ix["name"].lower()) for table in {s.table for s in specs} & tables
                for ix in inspector.get_indexes(table) if ix["name"]}
    return [s for s in specs if s.table in tables and (s.table, s.name.lower()) not in existing]


def _rows(engine, table: str) -> int:
    """About how many rows ``table`` has, without counting them."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            quoted = engine.dialect.identifier_preparer.quote(table)
            return conn.exec_driver_sql(f"SELECT MAX(rowid) FROM {quoted}").scalar() or 0
        return conn.execute(text("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE "
                                 "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"), {"t": table}).scalar() or 0


def _create(engine, missing: list[IndexSpec], delay_s: float = 0.0) -> list[str]:
    time.sleep(delay_s)
    sqlite = engine.dialect.name == "sqlite"
    connection = engine.raw_connection()
    try:
        if sqlite:  # another process building the same index: wait for it, then nothing to do
            connection.driver_connection.execute(f"PRAGMA busy_timeout={BUILD_WAIT_MS}")
        inspector, created = inspect(engine), []
        for spec in missing:  # autocommit (DDL commits on MariaDB): writers get turns in between
            cursor = connection.cursor()
            cursor.execute(_create_sql(engine, inspector, spec))
            cursor.close()
            created.append(spec.name)
        logger.info("flask_perf: created indexes %s on %s", ", ".join(created),
                    engine.url.render_as_string(hide_password=True))
        analyze(engine, {s.table for s in missing})
        return created
    except Exception:
        logger.exception("flask_perf: could not create the monitoring store's indexes")
        return []
    finally:
        if sqlite:
            connection.driver_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        connection.close()


def _create_sql(engine, inspector, spec: IndexSpec) -> str:
    quote = engine.dialect.identifier_preparer.quote
    columns = [quote(c) for c in spec.columns]
    if engine.dialect.name in ("mysql", "mariadb"):
        types = {c["name"]: c["type"] for c in inspector.get_columns(spec.table)}
        columns = [f"{quoted}({MYSQL_PREFIX})" if _long_text(types.get(name)) else quoted
                   for name, quoted in zip(spec.columns, columns)]
    return f"CREATE INDEX IF NOT EXISTS {quote(spec.name)} ON {quote(spec.table)} ({', '.join(columns)})"


def _long_text(column_type) -> bool:
    if isinstance(column_type, Text):
        return True
    return isinstance(column_type, String) and (column_type.length or 0) > MYSQL_PREFIX
