"""N+1 and duplicate queries, per request, for JSON endpoints too.

Reads PERF_N_PLUS_ONE_THRESHOLD (default 5: the same statement shape five times in one
request). Findings go to the ``flask_perf.nplusone`` logger and into the
``query_finding`` table of the slow-query store (endpoint, kind, shape, count), where
``flask report`` reads them. Needs recorded queries, like the slow-query log.
"""
import logging
import time

from flask import current_app, request
from sqlalchemy import Column, Float, Integer, String, Table, Text

from flask_perf.sql.recording import recorded_queries
from flask_perf.sql.shapes import repeats
from flask_perf.sql.slow_queries import metadata
from flask_perf.stores.engines import health_dir, store_engine, store_url
from flask_perf.stores.writer import BatchWriter

logger = logging.getLogger("flask_perf.nplusone")
query_finding = Table(
    "query_finding", metadata,
    Column("id", Integer, primary_key=True),
    Column("recorded_at", Float, nullable=False, index=True),
    Column("endpoint", String(128)),
    Column("path", String(512)),
    Column("kind", String(16), nullable=False),
    Column("shape", Text, nullable=False),
    Column("count", Integer, nullable=False),
    Column("app_version", String(64)),
)


def _check_request(response):
    found = repeats(recorded_queries(), int(current_app.config["PERF_N_PLUS_ONE_THRESHOLD"]))
    writer = current_app.extensions["flask_perf"].writers["query_findings"]
    for item in found:
        logger.warning("%s on %s: %d × %s", item.kind.upper(), request.endpoint, item.count, item.shape)
        writer.put({"recorded_at": time.time(), "endpoint": request.endpoint,
                    "path": request.path[:512], "kind": item.kind, "shape": item.shape,
                    "count": item.count, "app_version": current_app.config["PERF_VERSION"]})
    return response


def init_app(app) -> None:
    app.config.setdefault("PERF_N_PLUS_ONE_THRESHOLD", 5)
    engine = store_engine(store_url(app, "PERF_SLOW_QUERY_DATABASE_URL", "slow_queries.db"))
    metadata.create_all(engine)
    app.extensions["flask_perf"].writers["query_findings"] = BatchWriter(
        engine, query_finding, "query_findings", health_dir=health_dir(app))
    app.after_request(_check_request)
