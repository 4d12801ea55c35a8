"""The slow-query log: recorded queries at or over PERF_SLOW_QUERY_MS, logged and stored.

Reads PERF_SLOW_QUERY_ENABLED, PERF_SLOW_QUERY_MS (default 100; 0 logs every query) and
PERF_SLOW_QUERY_DATABASE_URL (default: slow_queries.db in the monitoring dir). Each slow
query goes to the ``flask_perf.slow_queries`` logger with statement, parameters,
duration, endpoint and the EXPLAIN verdict (full scans, index hint), and into the ``slow_query`` table with the dialect and the
driver-level parameters, so ``explain`` can run the same statement later. Rows are
written by a background BatchWriter: the request never waits on the store.
"""
import json
import logging
import time

from flask import current_app, request
from sqlalchemy import JSON, Column, Float, Integer, MetaData, String, Table, Text

from flask_perf.sql.explain import cached_verdict
from flask_perf.sql.recording import recorded_queries
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


def _record_slow_queries(response):
    app = current_app
    threshold_s = float(app.config["PERF_SLOW_QUERY_MS"]) / 1000
    slow = [q for q in recorded_queries() if q.duration >= threshold_s]
    if not slow:
        return response
    writer = app.extensions["flask_perf"].writers["slow_queries"]
    engine = app.extensions["sqlalchemy"].engine
    dialect, version = engine.dialect.name, app.config["PERF_VERSION"]
    for query in slow:
        duration_ms = query.duration * 1000
        verdict = cached_verdict(engine, query.statement, query.parameters)
        logger.warning("slow query %.1f ms on %s: %s; parameters=%r; plan: %s", duration_ms,
                       request.endpoint, query.statement, query.parameters,
                       verdict.summary() if verdict else "not explainable")
        writer.put({"recorded_at": time.time(), "endpoint": request.endpoint,
                    "method": request.method, "path": request.path[:512], "dialect": dialect,
                    "statement": query.statement, "parameters": _jsonable(query.parameters),
                    "duration_ms": duration_ms, "app_version": version})
    return response


def open_store(app) -> BatchWriter:
    """The slow-query table's writer for ``app`` (creates the table)."""
    engine = store_engine(store_url(app, "PERF_SLOW_QUERY_DATABASE_URL", "slow_queries.db"))
    metadata.create_all(engine)
    indexes.ensure_indexes(engine, indexes.SLOW_QUERIES)
    return BatchWriter(engine, slow_query, "slow_queries", health_dir=health_dir(app))


def init_app(app) -> None:
    """Statements are recorded by sql/recording.py (FlaskPerf listens on the engines)."""
    app.extensions["flask_perf"].writers["slow_queries"] = open_store(app)
    app.after_request(_record_slow_queries)
    app.extensions["flask_perf"].tools[f"slow-query log (≥ {app.config['PERF_SLOW_QUERY_MS']} ms)"] = None
