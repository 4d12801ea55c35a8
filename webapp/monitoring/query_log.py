"""The statements each request ran, for the slow-query log and N+1 detection.

Flask-SQLAlchemy's recorder (SQLALCHEMY_RECORD_QUERIES) also finds, for every
statement, the line of app code that ran it by walking the Python stack: the
toolbar's SQL panel shows that line, nothing else here needs it. So the toolbar
gets Flask-SQLAlchemy's recorder, and otherwise (production, testing) this one
keeps statement, parameters and timing only, on every engine of the app (the read
replica's included, see ``listen``). ``recorded_queries()`` reads whichever is on.
"""
from dataclasses import dataclass
from time import perf_counter

from flask import current_app, g, has_app_context
from flask_sqlalchemy import record_queries as fsa_recorder
from sqlalchemy import event


@dataclass(slots=True)
class Query:
    statement: str
    parameters: object
    start_time: float
    end_time: float
    location: str = ""

    @property
    def duration(self) -> float:
        return self.end_time - self.start_time


def _start(conn, cursor, statement, parameters, context, executemany) -> None:
    context._flask_perf_start = perf_counter()


def _end(conn, cursor, statement, parameters, context, executemany) -> None:
    if not has_app_context():
        return
    started = getattr(context, "_flask_perf_start", None)
    if started is None:
        return
    queries = g.get("_flask_perf_queries")
    if queries is None:
        queries = g._flask_perf_queries = []
    queries.append(Query(statement, context.parameters, started, perf_counter()))  # as Flask-SQLAlchemy


def wanted(app) -> bool:
    """This recorder, rather than Flask-SQLAlchemy's, records for ``app``."""
    return bool(app.config.get("SLOW_QUERY_ENABLED")) and not app.config.get("SQLALCHEMY_RECORD_QUERIES")


def listen(app, engine) -> None:
    """Record ``engine``'s statements for ``app`` with the recorder it uses (if any)."""
    if app.config.get("SQLALCHEMY_RECORD_QUERIES"):
        fsa_recorder._listen(engine)  # what Flask-SQLAlchemy does for its own engines
    elif wanted(app) and not event.contains(engine, "after_cursor_execute", _end):
        event.listen(engine, "before_cursor_execute", _start)
        event.listen(engine, "after_cursor_execute", _end)


def recorded_queries() -> list:
    """The current request's statements, oldest first."""
    if current_app.config.get("SQLALCHEMY_RECORD_QUERIES"):
        return fsa_recorder.get_recorded_queries()
    return g.get("_flask_perf_queries", [])
