"""Indexes for what the pages and commands ask the stores, and fresh planner statistics.

Flask-MonitoringDashboard 5.1 declares two indexes on ``Request`` and creates them only
on its own import-time engine, and none serves its version pages (``GROUP BY
version_requested``), the per-endpoint time, version and user queries, or the joins
from ``Outlier`` and ``ExceptionOccurrence``; the stores had no planner statistics,
so SQLite walked ``Request`` through the wrong index (the 7-day median took 20.7 s at
5M rows, 0.23 s with these). ``ensure_indexes(engine, specs)`` creates the missing ones
by name (``IF NOT EXISTS``: a worker that lost the race changes nothing), with prefix
lengths on MariaDB for TEXT and long VARCHAR columns, then ``analyze(engine)``:
SQLite ``ANALYZE`` with an ``analysis_limit`` (a sample: milliseconds on millions of
rows), MariaDB ``ANALYZE TABLE`` for tables that got an index. Each store calls it
once at start, under the schema lock; retention calls ``analyze`` after each prune.
Every index is in the lists below; tests/test_store_indexes.py EXPLAINs the pages'
queries against them on SQLite and MariaDB.
"""
import logging
from dataclasses import dataclass

from sqlalchemy import String, Text, inspect

logger = logging.getLogger("flask_perf")
ANALYSIS_LIMIT = 1000  # rows SQLite's ANALYZE samples per index
MYSQL_PREFIX = 255  # characters of a TEXT / long VARCHAR column that MariaDB indexes


@dataclass(frozen=True)
class IndexSpec:
    name: str
    table: str
    columns: tuple[str, ...]


DASHBOARD = (  # Flask-MonitoringDashboard's tables (FMD's own two first, for stores made before 5.1)
    IndexSpec("ix_request_endpoint_duration", "Request", ("endpoint_id", "duration")),
    IndexSpec("ix_request_time_endpoint", "Request", ("time_requested", "endpoint_id", "status_code", "duration")),
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
    IndexSpec("ix_perf_request_endpoint_ip", "Request", ("endpoint_id", "ip", "version_requested", "duration")),
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


def ensure_indexes(engine, specs) -> list[str]:
    """Create the indexes of ``specs`` that ``engine``'s store lacks, then analyze; the names
    created. Tables that do not exist are skipped. Never raises: an index is an optimisation,
    and a store that is read-only or locked must not stop the app from starting."""
    try:
        inspector = inspect(engine)
        tables = set(inspector.get_table_names())
        existing = {(table, ix["name"].lower()) for table in {s.table for s in specs} & tables
                    for ix in inspector.get_indexes(table) if ix["name"]}
        created = []
        with engine.connect() as conn:
            for spec in specs:
                if spec.table in tables and (spec.table, spec.name.lower()) not in existing:
                    conn.exec_driver_sql(_create_sql(engine, inspector, spec))
                    conn.commit()
                    created.append(spec.name)
        if created:
            logger.info("flask_perf: created indexes %s on %s", ", ".join(created),
                        engine.url.render_as_string(hide_password=True))
        analyze(engine, {s.table for s in specs if s.name in created} if created else set())
        return created
    except Exception:
        logger.exception("flask_perf: could not create the monitoring store's indexes")
        return []


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


def analyze(engine, tables=()) -> None:
    """Refresh the planner's statistics: SQLite samples every table; MariaDB ``tables``."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
            conn.exec_driver_sql("ANALYZE")
        elif tables:
            quote = engine.dialect.identifier_preparer.quote
            conn.exec_driver_sql(f"ANALYZE TABLE {', '.join(quote(t) for t in sorted(tables))}").fetchall()
        conn.commit()
