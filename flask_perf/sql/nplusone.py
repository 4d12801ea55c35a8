"""N+1 and duplicate queries, per request, for JSON endpoints too.

Reads PERF_N_PLUS_ONE_ENABLED (default on; off in the production profile, where the
recorder keeps only slow statements) and PERF_N_PLUS_ONE_THRESHOLD (default 5: the same
statement shape five times in one request). Findings go to the ``flask_perf.nplusone``
logger and into the ``query_finding`` table of the slow-query store (endpoint, kind,
shape, count), where ``flask report`` reads them. Needs the recorder to keep every
statement of a request (``state.collects_queries``, set by FlaskPerf from these keys).

``after_request`` only hands a request's statements to the writer thread when they
could hold a repeat (``shapes.may_repeat``: two or more, and a statement seen twice or
as many as the threshold); shapes, log lines and rows are made there (``_rows``).
"""
import logging
import time

from flask import current_app, request
from sqlalchemy import Column, Float, Integer, String, Table, Text

from flask_perf.sql.recording import recorded_queries
from flask_perf.sql.shapes import may_repeat, repeats
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
    queries = recorded_queries()
    if len(queries) < 2:  # nothing can repeat: no config read, no set of statements
        return response
    threshold = int(current_app.config["PERF_N_PLUS_ONE_THRESHOLD"])
    if may_repeat(queries, threshold):
        writer = current_app.extensions["flask_perf"].writers["query_findings"]
        writer.put((queries, threshold, request.endpoint, request.path[:512], time.time()))
    return response


def _rows(app):
    """The writer thread's half (``prepare``): the findings of one request's statements."""
    def rows(item) -> list[dict]:
        queries, threshold, endpoint, path, recorded_at = item
        found = []
        for repeat in repeats(queries, threshold):
            logger.warning("%s on %s: %d × %s", repeat.kind.upper(), endpoint, repeat.count, repeat.shape)
            found.append({"recorded_at": recorded_at, "endpoint": endpoint, "path": path,
                          "kind": repeat.kind, "shape": repeat.shape, "count": repeat.count,
                          "app_version": app.config["PERF_VERSION"]})
        return found
    return rows


def init_app(app) -> None:
    app.config.setdefault("PERF_N_PLUS_ONE_THRESHOLD", 5)
    engine = store_engine(store_url(app, "PERF_SLOW_QUERY_DATABASE_URL", "slow_queries.db"))
    metadata.create_all(engine)  # `flask perf report` reads the table, also when the check is off
    if not app.config.get("PERF_N_PLUS_ONE_ENABLED", True):
        return
    app.extensions["flask_perf"].writers["query_findings"] = BatchWriter(
        engine, query_finding, "query_findings", health_dir=health_dir(app), prepare=_rows(app))
    app.after_request(_check_request)
