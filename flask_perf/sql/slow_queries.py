"""The slow-query log: statements at or over PERF_SLOW_QUERY_MS, logged and stored.

Reads PERF_SLOW_QUERY_ENABLED, PERF_SLOW_QUERY_MS (default 100; 0 logs every query) and
PERF_SLOW_QUERY_DATABASE_URL (default: slow_queries.db in the monitoring dir). Each slow
query goes to the ``flask_perf.slow_queries`` logger with statement, parameters,
duration, endpoint and the EXPLAIN verdict (full scans, index hint), and into the
``slow_query`` table with the dialect and the driver-level parameters, so ``explain``
can run the same statement later.

The recorder (recording.py) hands over only the slow statements, as they finish: the
request thread adds its endpoint, method and path and queues it (``_queue``); the
EXPLAIN, the log line and the row are made by the BatchWriter's thread (``_rows``). A
request without a slow statement costs this module nothing (no ``after_request``).
"""
import json
import logging
import time

from flask import request
from sqlalchemy import JSON, Column, Float, Integer, MetaData, String, Table, Text

from flask_perf.sql.explain import cached_verdict
from flask_perf.stores import indexes
from flask_perf.stores.engines import health_dir, store_engine, store_url
from flask_perf.stores.writer import BatchWriter

logger = logging.getLogger("flask_perf.slow_queries")
metadata = MetaData()
slow_query = Table(
    "slow_query", metadata,
    Column("id", Integer, primary_key=True),
    Column("recorded_at", Float, nullable=False, index=True),  # unix time
    Column("endpoint", String(128)),
    Column("method", String(8)),
    Column("path", String(512)),
    Column("dialect", String(32), nullable=False),
    Column("statement", Text, nullable=False),
    Column("parameters", JSON),
    Column("duration_ms", Float, nullable=False),
    Column("app_version", String(64)),
)


def _jsonable(parameters):
    return json.loads(json.dumps(parameters, default=str))


def _queue(writer: BatchWriter):
    """The recorder's sink: one slow statement of the current request onto the writer."""
    def queue_slow(query) -> None:
        writer.put((query, request.endpoint, request.method, request.path[:512], time.time()))
    return queue_slow


def _rows(app, primary):
    """The writer thread's half (``prepare``): EXPLAIN verdict, log line and row of a slow query.
    EXPLAIN runs on ``primary`` (the default bind, as the CLI's), else on the statement's engine."""
    def rows(item) -> list[dict]:
        query, endpoint, method, path, recorded_at = item
        engine = primary or query.engine
        duration_ms = query.duration * 1000
        verdict = cached_verdict(engine, query.statement, query.parameters)
        logger.warning("slow query %.1f ms on %s: %s; parameters=%r; plan: %s", duration_ms,
                       endpoint, query.statement, query.parameters,
                       verdict.summary() if verdict else "not explainable")
        return [{"recorded_at": recorded_at, "endpoint": endpoint, "method": method, "path": path,
                 "dialect": engine.dialect.name, "statement": query.statement,
                 "parameters": _jsonable(query.parameters), "duration_ms": duration_ms,
                 "app_version": app.config["PERF_VERSION"]}]
    return rows


def open_store(app, prepare=None) -> BatchWriter:
    """The slow-query table's writer for ``app`` (creates the table)."""
    engine = store_engine(store_url(app, "PERF_SLOW_QUERY_DATABASE_URL", "slow_queries.db"))
    metadata.create_all(engine)
    indexes.ensure_indexes(engine, indexes.SLOW_QUERIES)
    return BatchWriter(engine, slow_query, "slow_queries", health_dir=health_dir(app), prepare=prepare)


def init_app(app) -> None:
    """Statements are recorded by sql/recording.py (FlaskPerf listens on the engines)."""
    state = app.extensions["flask_perf"]
    primary = state.primary_engine() if "sqlalchemy" in app.extensions else None
    writer = state.writers["slow_queries"] = open_store(app, prepare=_rows(app, primary))
    state.slow_query_sink = _queue(writer)
    state.tools[f"slow-query log (≥ {app.config['PERF_SLOW_QUERY_MS']} ms)"] = None
