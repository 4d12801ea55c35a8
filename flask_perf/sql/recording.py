"""The statements each request ran: one recorder for the toolbar, slow-query log and N+1 check.

It listens to SQLAlchemy's cursor events on every engine of the app's
Flask-SQLAlchemy (all binds) and on engines handed to ``FlaskPerf.init_app(engines=...)``
or ``FlaskPerf.record_engine``, so it does not depend on ``SQLALCHEMY_RECORD_QUERIES``
having been set before ``db.init_app``. Each statement costs two timestamps and an
append; only when the toolbar is on does it also walk the Python stack for the line
of app code that ran it (the SQL panel shows that line, nothing else needs it).
One listener pair serves every app in the process: each app's own settings are read
from the app that is current when the statement runs.
"""
import inspect
from dataclasses import dataclass
from time import perf_counter

from flask import current_app, g, has_app_context
from sqlalchemy import event


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


def _start(conn, cursor, statement, parameters, context, executemany) -> None:
    context._flask_perf_start = perf_counter()


def _end(conn, cursor, statement, parameters, context, executemany) -> None:
    if not has_app_context():
        return
    started = getattr(context, "_flask_perf_start", None)
    state = current_app.extensions.get("flask_perf")
    if started is None or state is None or not state.records_queries:
        return
    if context.execution_options.get("flask_perf_internal"):
        return  # our own EXPLAIN for a verdict, not the app's statement
    queries = g.get("_flask_perf_queries")
    if queries is None:
        queries = g._flask_perf_queries = []
    location = _app_location(current_app.import_name) if state.query_locations else ""
    queries.append(Query(statement, context.parameters, started, perf_counter(), location, conn.engine))


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


def listen(engine) -> None:
    """Record ``engine``'s statements (once, however often it is called)."""
    if not event.contains(engine, "after_cursor_execute", _end):
        event.listen(engine, "before_cursor_execute", _start)
        event.listen(engine, "after_cursor_execute", _end)


def recorded_queries() -> list:
    """The current request's statements, oldest first."""
    return g.get("_flask_perf_queries", [])
