"""A level-3 call stack stored in a few statements: ~1 ms of CPU, FMD's code 8-20 ms.

FMD 5.1's ``StacktraceProfiler._on_thread_stopped`` stores the request (``add_request``,
its own commit), then, for every line of the stack, an ORM query for the line's
``CodeLine`` (a scan: no index on its four columns, so it grows with the table) that
autoflushes the previous line's ``StackLine`` insert. ``store`` (sampling.py puts it in
that method's place, a row of patches.py) stores the same rows, in two transactions:

1. the ``Request``: one Core insert with what FMD's column defaults and
   ``store.stamp_inserts`` give it (time, version), rolled up in the same transaction
   (``rollups.SOURCE``, as FMD's after_insert listener does for FMD's own inserts);
2. the ``CodeLine`` ids from a per-process dict, checked with one query by primary key
   (a replaced store file has other ids: those lines are looked up again); unknown lines
   with one query, and inserted when new; every ``StackLine`` in one executemany; the
   request's exceptions and outlier record through FMD's own code.

Rows and positions are FMD's (``insert_lines_db``): the view's header lines (indent 0,
the request's duration), then ``order_histogram`` of the sampled lines, each line's
share of the samples times the duration. The header's source is read once per view.
"""
import functools
import inspect
from datetime import datetime, timezone

from sqlalchemy import insert, select

from flask_perf.dashboard import rollups
from flask_perf.dashboard.writer import count_drop, writing_connection

_code_ids: dict[tuple, int] = {}  # (filename, line_number, function_name, code) -> CodeLine.id


def store(profiler) -> None:
    """What FMD's ``_on_thread_stopped`` stores for ``profiler`` (a StacktraceProfiler)."""
    import flask_monitoringdashboard as fmd
    from flask_monitoringdashboard.core.cache import update_duration_cache
    from flask_monitoringdashboard.database import Request

    endpoint, duration = profiler._endpoint, profiler._duration
    update_duration_cache(endpoint_name=endpoint.name, duration=duration)
    row = {"endpoint_id": endpoint.id, "duration": duration, "ip": profiler._ip,
           "group_by": profiler._group_by, "status_code": profiler._status_code,
           "version_requested": fmd.config.version, "time_requested": datetime.now(timezone.utc)}
    try:
        with writing_connection() as conn:
            with conn.begin():  # the request is kept whatever happens to its stack (as add_request)
                request_id = conn.execute(insert(Request.__table__), row).inserted_primary_key[0]
                rollups.SOURCE(conn, [row])
            lines = stack_lines(profiler)
            with conn.begin():
                _insert_lines(conn, request_id, lines)
                if _has_records(profiler):
                    _store_fmd_records(conn, profiler, request_id)
    except Exception as exc:  # as safe_session_scope: counted and logged, never raised
        count_drop(exc)


def _has_records(profiler) -> bool:
    """Whether FMD would store exceptions or an outlier record for this request."""
    collector, outlier = profiler.e_collector, profiler._outlier_profiler
    return bool(collector is not None and (collector.user_captured_exceptions or collector.uncaught_exception)
                or outlier and getattr(outlier, "_memory", True))


def _store_fmd_records(conn, profiler, request_id: int) -> None:
    """The request's exceptions and outlier record, by FMD's code, in ``conn``'s transaction."""
    import flask_monitoringdashboard as fmd
    from sqlalchemy.orm import Session

    with Session(bind=conn) as session:
        if profiler.e_collector is not None:
            profiler.e_collector.save_to_db(request_id, session, fmd.config)
        if profiler._outlier_profiler:
            profiler._outlier_profiler.add_outlier(session, request_id)
        session.flush()


def stack_lines(profiler) -> list[tuple]:
    """FMD's rows of one stack: (indent, duration, (filename, line_number, function, code))."""
    from flask_monitoringdashboard.core.profiler.util import order_histogram

    duration, total, paths = profiler._duration, profiler._total, profiler._path_hash
    lines = [(0, duration, code_line) for code_line in header(profiler._endpoint.name)]
    for (path, function, code), sampled in order_histogram(profiler._histogram.items()):
        filename, line_number = paths.get_last_fn_ln(path)
        share = sampled * duration / total if total != 0 else 0
        lines.append((paths.get_indent(path), share, (filename, line_number, function, code)))
    return lines


def header(endpoint_name: str) -> tuple:
    """FMD's ``get_funcheader``: the view's decorator and ``def`` lines (ValueError: no view)."""
    import flask_monitoringdashboard as fmd

    original = getattr(fmd.config.app.view_functions.get(endpoint_name), "original", None)
    if original is None:
        raise ValueError("Cannot retrieve the function header")
    return _header_of(original)


@functools.lru_cache(maxsize=512)
def _header_of(original) -> tuple:
    filename = inspect.getfile(original)
    lines, first = inspect.getsourcelines(original)
    header = []
    for offset, line in enumerate(lines):
        header.append((filename, first + offset, "None", line.strip()))
        if line.strip()[:4] == "def ":
            return tuple(header)
    raise ValueError("Cannot retrieve the function header")


def _insert_lines(conn, request_id: int, lines: list[tuple]) -> None:
    from flask_monitoringdashboard.database import StackLine

    ids = code_line_ids(conn, {code_line for _, _, code_line in lines})
    conn.execute(insert(StackLine.__table__), [
        {"request_id": request_id, "position": position, "indent": indent, "duration": duration,
         "code_id": ids[code_line]} for position, (indent, duration, code_line) in enumerate(lines)])


def code_line_ids(conn, keys: set) -> dict:
    """The ``CodeLine`` id of each (filename, line_number, function_name, code), new ones inserted."""
    from flask_monitoringdashboard.database import CodeLine

    table = CodeLine.__table__
    columns = (table.c.id, table.c.filename, table.c.line_number, table.c.function_name, table.c.code)
    known = {key: _code_ids[key] for key in keys if key in _code_ids}
    if known:
        stored = {row[0]: tuple(row[1:]) for row in conn.execute(
            select(*columns).where(table.c.id.in_(set(known.values()))))}
        for key, code_id in list(known.items()):
            if stored.get(code_id) != key:  # another store file, or the row is gone: look it up
                del known[key], _code_ids[key]
    missing = keys - known.keys()
    if missing:
        found = {}
        for row in conn.execute(select(*columns).where(
                table.c.filename.in_({key[0] for key in missing}),
                table.c.line_number.in_({key[1] for key in missing})).order_by(table.c.id.desc())):
            found[tuple(row[1:])] = row[0]  # the lowest id of duplicates (FMD's .first())
        for key in missing:
            if key not in found:
                found[key] = conn.execute(insert(table).values(
                    filename=key[0], line_number=key[1], function_name=key[2], code=key[3])).inserted_primary_key[0]
            known[key] = _code_ids[key] = found[key]
    return known
