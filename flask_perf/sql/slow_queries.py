"""The slow-query log: statements at or over PERF_SLOW_QUERY_MS, logged and stored.

Reads PERF_SLOW_QUERY_ENABLED, PERF_SLOW_QUERY_MS (default 100; 0 logs every query) and
PERF_SLOW_QUERY_DATABASE_URL (default: slow_queries.db in the monitoring dir). Each slow
query goes to the ``flask_perf.slow_queries`` logger with statement, parameters,
duration, endpoint and the EXPLAIN verdict (full scans, index hint), and into the
``slow_query`` table with the dialect and the driver-level parameters, so ``explain``
can run the same statement later.

Parameters are values a request may have chosen, so what is logged and stored is
``stored_parameters``: a parameter whose name is sensitive (redaction.py's words) is
``[redacted]`` -- the key of a named parameter (``%(password_hash_1)s``), or for positional
ones (``?``, ``%s``) the column it is compared with or inserted into (``token = ?``,
``INSERT INTO t (a, api_key) VALUES (?, ?)``) -- a URL's query is redacted like a
request's, and the whole is capped (limits.within_record: each string at most
PERF_MAX_FIELD_CHARS, all of it at most PERF_MAX_RECORD_CHARS, cut entries counted).
A secret under an innocent name (``WHERE note = ?``) is not found. EXPLAIN at record
time runs with the real values.

The recorder (recording.py) hands over only the slow statements, as they finish: the
request thread adds its endpoint, method and path and queues it (``_queue``); the
EXPLAIN, the log line and the row are made by the BatchWriter's thread (``_rows``). A
request without a slow statement costs this module nothing (no ``after_request``).
"""
import logging
import re
import time

from flask import request
from sqlalchemy import JSON, Column, Double, Integer, MetaData, String, Table, Text

from flask_perf.limits import Caps, within_record
from flask_perf.redaction import REDACTED, is_sensitive, redact_value, sensitive_names
from flask_perf.sql.explain import cached_verdict
from flask_perf.stores import indexes
from flask_perf.stores.column_types import widen_floats
from flask_perf.stores.engines import health_dir, store_engine, store_url
from flask_perf.stores.writer import BatchWriter

logger = logging.getLogger("flask_perf.slow_queries")
metadata = MetaData()
slow_query = Table(
    "slow_query", metadata,
    Column("id", Integer, primary_key=True),
    Column("recorded_at", Double, nullable=False, index=True),  # unix time
    Column("endpoint", String(128)),
    Column("method", String(8)),
    Column("path", String(512)),
    Column("dialect", String(32), nullable=False),
    Column("statement", Text, nullable=False),
    Column("parameters", JSON),
    Column("duration_ms", Double, nullable=False),
    Column("app_version", String(64)),
)


# Positional placeholders: qmark, format, numeric. Named ones come with a dict of values.
_PLACEHOLDER = re.compile(r"\?|%s|(?<![:\w]):\d+|\$\d+")
# The column a placeholder is compared with: ``"t".password_hash = ?``, ``token IN (?, ?``.
_COMPARED = re.compile(r"""([A-Za-z_][\w$]*)["`\]]?\s*(?:[=<>!]{1,2}|\bLIKE|\bIN\s*\([^()]*)\s*$""",
                       re.IGNORECASE)
_LIST_GAP = re.compile(r"\s*,\s*")
_INSERT = re.compile(r"^\s*(?:INSERT|REPLACE)\b[^(]*\(([^()]*)\)\s*VALUES\s*\(", re.IGNORECASE)


def _positional_names(statement: str) -> list:
    """The column each positional placeholder of ``statement`` stands for, or None."""
    placeholders = list(_PLACEHOLDER.finditer(statement))
    insert = _INSERT.match(statement)
    if insert:
        columns = [c.strip().strip('"`[]') for c in insert.group(1).split(",")]
        if len(columns) == len(placeholders):
            return columns
    names, end = [], None
    for placeholder in placeholders:
        if end is not None and _LIST_GAP.fullmatch(statement, end, placeholder.start()):
            names.append(names[-1])  # the next item of ``IN (?, ?, ...``
        else:
            found = _COMPARED.search(statement, max(0, placeholder.start() - 200), placeholder.start())
            names.append(found.group(1) if found else None)
        end = placeholder.end()
    return names


def _redacted_set(values, names: list, words):
    if isinstance(values, dict):
        return redact_value(values, words)
    if isinstance(values, (list, tuple)):
        return [REDACTED if index < len(names) and names[index] and is_sensitive(names[index], words)
                else redact_value(value, words, 1) for index, value in enumerate(values)]
    return redact_value(values, words)


def stored_parameters(statement: str, parameters, caps: Caps, words):
    """``parameters`` (one set, or a list of sets) as the log keeps them: sensitive ones
    redacted, the whole within ``caps`` (see the module docstring)."""
    names = _positional_names(statement) if isinstance(statement, str) else []
    if isinstance(parameters, (list, tuple)) and parameters and \
            all(isinstance(p, (list, tuple, dict)) for p in parameters):
        redacted = [_redacted_set(values, names, words) for values in parameters]
    else:
        redacted = _redacted_set(parameters, names, words)
    return within_record(caps, redacted)


def _queue(writer: BatchWriter):
    """The recorder's sink: one slow statement of the current request onto the writer."""
    def queue_slow(query) -> None:
        writer.put((query, request.endpoint, request.method, request.path[:512], time.time()))
    return queue_slow


def _rows(app, primary):
    """The writer thread's half (``prepare``): EXPLAIN verdict, log line and row of a slow query.
    EXPLAIN runs on ``primary`` (the default bind, as the CLI's), else on the statement's engine."""
    caps, (_, fields) = Caps.of(app.config), sensitive_names(app.config)

    def rows(item) -> list[dict]:
        query, endpoint, method, path, recorded_at = item
        engine = primary or query.engine
        duration_ms = query.duration * 1000
        verdict = cached_verdict(engine, query.statement, query.parameters)
        parameters = stored_parameters(query.statement, query.parameters, caps, fields)
        logger.warning("slow query %.1f ms on %s: %s; parameters=%r; plan: %s", duration_ms,
                       endpoint, query.statement, parameters,
                       verdict.summary() if verdict else "not explainable")
        return [{"recorded_at": recorded_at, "endpoint": endpoint, "method": method, "path": path,
                 "dialect": engine.dialect.name, "statement": query.statement,
                 "parameters": parameters, "duration_ms": duration_ms,
                 "app_version": app.config["PERF_VERSION"]}]
    return rows


def open_store(app, prepare=None) -> BatchWriter:
    """The slow-query table's writer for ``app`` (creates the table)."""
    engine = store_engine(store_url(app, "PERF_SLOW_QUERY_DATABASE_URL", "slow_queries.db"))
    metadata.create_all(engine)
    widen_floats(engine, "slow_query", ("recorded_at", "duration_ms"))  # older MariaDB stores
    indexes.ensure_indexes(engine, indexes.SLOW_QUERIES)
    return BatchWriter(engine, slow_query, "slow_queries", health_dir=health_dir(app), prepare=prepare)


def init_app(app) -> None:
    """Statements are recorded by sql/recording.py (FlaskPerf listens on the engines)."""
    state = app.extensions["flask_perf"]
    primary = state.primary_engine() if "sqlalchemy" in app.extensions else None
    writer = state.writers["slow_queries"] = open_store(app, prepare=_rows(app, primary))
    state.slow_query_sink = _queue(writer)
    state.tools[f"slow-query log (≥ {app.config['PERF_SLOW_QUERY_MS']} ms)"] = None
