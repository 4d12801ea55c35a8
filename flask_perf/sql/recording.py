"""The statements each request ran: one recorder for the slow-query log, N+1 check and toolbar.

It hooks SQLAlchemy's *dialect* events ``do_execute``, ``do_execute_no_params`` and
``do_executemany`` on every engine of the app's Flask-SQLAlchemy (all binds) and on
engines handed to ``FlaskPerf.init_app(engines=...)`` or ``FlaskPerf.record_engine``
(so ``SQLALCHEMY_RECORD_QUERIES`` does not matter): each hook runs the dialect's own
call between two ``perf_counter()`` and says it ran it. The connection events used
before (``before_``/``after_cursor_execute``) set ``engine._has_events``, which sends
every connect, begin, execute and rollback of the engine through its event dispatch.
``benchmarks/sql_hooks.py`` (10,000 ``SELECT ?`` on SQLite, each on a checked-out
connection, CPU per statement, best of 7): bare 23.4 µs; cursor events +15.8 µs (+14.8
with ``after_cursor_execute`` alone: it is the flag, not the listener); ``do_execute``
+1.0 µs. A statement that fails raises through the hook as it did without one.

What a statement costs after its two timestamps:
- nothing, when no app wants every statement and it is under the lowest
  PERF_SLOW_QUERY_MS of the apps recording the engine (production);
- a slow one, in a request, goes to ``state.slow_query_sink`` (sql/slow_queries.py) with
  the request's endpoint, method and path; EXPLAIN, log line and row are the writer's;
- with the toolbar or the N+1 check on (``state.collects_queries``), every statement of a
  request is kept in ``g`` (``recorded_queries()``), with the line of app code that ran
  it only when the toolbar is shown for the request (the SQL panel sets the flag).
Our own EXPLAINs carry the ``flask_perf_internal`` execution option and are skipped, and
so are the dialect's probes on a new engine's first connection (no connection event saw
those: SQLAlchemy runs them on a connection without events, and without autobegin).
"""
import inspect
import math
from dataclasses import dataclass
from time import perf_counter

from flask import g, has_request_context
from flask.globals import app_ctx
from sqlalchemy import event

LOCATIONS_FLAG = "_flask_perf_query_locations"  # in g: the toolbar is shown for this request
QUERIES = "_flask_perf_queries"  # in g: the request's statements, when every one is kept


@dataclass(slots=True)
class Query:
    statement: str
    parameters: object
    start_time: float
    end_time: float
    location: str = ""
    engine: object = None  # the engine that ran it (a bind's EXPLAIN runs on that bind)

    @property
    def duration(self) -> float:
        return self.end_time - self.start_time


class Recorder:
    """Times one engine's statements. ``threshold_s`` and ``collect`` are the loosest of the
    apps recording the engine; ``seen`` applies each app's own settings."""

    def __init__(self, dialect):
        self.threshold_s, self.collect = math.inf, False
        self._one, self._plain, self._many = (dialect.do_execute, dialect.do_execute_no_params,
                                              dialect.do_executemany)

    def do_execute(self, cursor, statement, parameters, context):
        started = perf_counter()
        self._one(cursor, statement, parameters, context)
        ended = perf_counter()
        if self.collect or ended - started >= self.threshold_s:
            seen(statement, context, started, ended)
        return True

    def do_execute_no_params(self, cursor, statement, context):
        started = perf_counter()
        self._plain(cursor, statement, context)
        ended = perf_counter()
        if self.collect or ended - started >= self.threshold_s:
            seen(statement, context, started, ended)
        return True

    def do_executemany(self, cursor, statement, parameters, context):
        started = perf_counter()
        self._many(cursor, statement, parameters, context)
        ended = perf_counter()
        if self.collect or ended - started >= self.threshold_s:
            seen(statement, context, started, ended)
        return True


def seen(statement: str, context, started: float, ended: float) -> None:
    """A statement to keep (every one) or to log (slow), with the current app's settings."""
    if not has_request_context():
        return
    current = app_ctx._get_current_object()  # one proxy lookup for the app and its g
    state = current.app.extensions.get("flask_perf")
    if state is None or not state.records_queries or context.execution_options.get("flask_perf_internal"):
        return
    if not getattr(context.root_connection, "_allow_autobegin", True):
        return  # the dialect's own first-connect probes (MariaDB's SELECT @@sql_mode ...)
    query = None
    if state.collects_queries:
        kept = current.g.__dict__  # g's attributes (getattr of a missing one raises: ~1 µs)
        located = state.query_locations and kept.get(LOCATIONS_FLAG, False)
        query = Query(statement, context.parameters, started, ended,
                      _app_location(current.app.import_name) if located else "", context.root_connection.engine)
        queries = kept.get(QUERIES)
        if queries is None:
            queries = kept[QUERIES] = []
        queries.append(query)
    sink = state.slow_query_sink
    if sink is not None and ended - started >= state.slow_query_s:
        sink(query or Query(statement, context.parameters, started, ended, "", context.root_connection.engine))


def _app_location(import_name: str) -> str:
    """``file:line (function)`` of the innermost frame in the app's own package."""
    top = import_name.partition(".")[0]
    frame = inspect.currentframe()
    while frame:
        name = frame.f_globals.get("__name__") or ""
        if name == top or name.startswith(top + "."):
            code = frame.f_code
            return f"{code.co_filename}:{frame.f_lineno} ({code.co_name})"
        frame = frame.f_back
    return "<unknown>"


def listen(engine, state) -> None:
    """Record ``engine``'s statements for the app of ``state`` (hooked once per engine)."""
    recorder = getattr(engine.dialect, "_flask_perf_recorder", None)
    if recorder is None:
        recorder = engine.dialect._flask_perf_recorder = Recorder(engine.dialect)
        event.listen(engine, "do_execute", recorder.do_execute)
        event.listen(engine, "do_execute_no_params", recorder.do_execute_no_params)
        event.listen(engine, "do_executemany", recorder.do_executemany)
    if state.slow_query_s is not None:
        recorder.threshold_s = min(recorder.threshold_s, state.slow_query_s)
    recorder.collect = recorder.collect or state.collects_queries


def recorded_queries() -> list:
    """The current request's statements, oldest first (kept when ``state.collects_queries``)."""
    return g.get(QUERIES, [])
