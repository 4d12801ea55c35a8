"""FMD's profiler tabs: the count of profiled requests, their table and the grouped profile
(rows of patches.py).

All start from ``fmd_profiled`` (profiled.py), an index of the profiled requests by
endpoint: the count is a range of that index, the table a page of it (newest first),
the grouped profile reads the stack lines of the endpoint's newest 100 profiled
requests (FMD's sample) by their primary key. FMD 5.1 probed ``StackLine`` for every
request of the endpoint (0.4 s and 0.9 s at 1M requests; its table walked the
endpoint's requests newest first until it had a page: all of them for an endpoint
profiled only long ago), and SQLite cannot reorder its grouped query (a table after
two LEFT JOINs). The answers are FMD's: same rows, paths, hits, sums and standard
deviations, in FMD's order. Until ``fmd_profiled`` is complete, FMD's own code answers.
"""
from collections import defaultdict
from types import SimpleNamespace

from sqlalchemy import Column, Integer, MetaData, String, Table, func, select

from flask_perf.dashboard.profiled import LINE, PROFILED, ready

SAMPLE = 100  # FMD's: the newest 100 profiled requests
CODE = Table("CodeLine", MetaData(), Column("id", Integer, primary_key=True), Column("filename", String(250)),
             Column("code", String(250)))


def count_profiled_requests(session, endpoint_id) -> int:
    """FMD's ``count_profiled_requests``."""
    conn = session.connection()
    if not ready(conn):
        from flask_monitoringdashboard.database.count import count_profiled_requests as fmd

        return fmd(session, endpoint_id)
    return conn.execute(select(func.count()).select_from(PROFILED)
                        .where(PROFILED.c.endpoint_id == endpoint_id)).scalar_one()


def newest_profiled(conn, endpoint_id, limit: int = SAMPLE, offset: int = 0) -> list[int]:
    """Ids of the endpoint's newest profiled requests, newest first (``ready`` stores)."""
    return conn.execute(select(PROFILED.c.request_id).where(PROFILED.c.endpoint_id == endpoint_id)
                        .order_by(PROFILED.c.request_id.desc()).offset(offset).limit(limit)).scalars().all()


def get_profiler_table(session, endpoint_id, offset, per_page) -> list[dict]:
    """FMD's ``controllers.profiler.get_profiler_table``: a page of profiled requests with
    their stack lines and code, the newest first."""
    from flask_monitoringdashboard.core.timezone import to_local_datetime
    from flask_monitoringdashboard.database import Request, StackLine, row2dict
    from sqlalchemy.orm import joinedload

    conn = session.connection()
    if not ready(conn):
        from flask_monitoringdashboard.controllers.profiler import get_profiler_table as fmd

        return fmd(session, endpoint_id, offset, per_page)
    ids = newest_profiled(conn, endpoint_id, int(per_page), int(offset))
    rows = (session.query(Request).options(joinedload(Request.stack_lines).joinedload(StackLine.code))
            .filter(Request.id.in_(ids)).order_by(Request.time_requested.desc(), Request.id.desc()).all()
            if ids else [])
    session.expunge_all()
    table = []
    for row in rows:
        row.time_requested = to_local_datetime(row.time_requested)
        lines = [{**row2dict(line), "code": row2dict(line.code)} for line in row.stack_lines]
        table.append({**row2dict(row), "stack_lines": lines})
    return table


def get_grouped_profiler(session, endpoint_id) -> list[dict]:
    """FMD's ``controllers.profiler.get_grouped_profiler``."""
    from flask_monitoringdashboard.core.profiler.util import PathHash

    conn = session.connection()
    if not ready(conn):
        from flask_monitoringdashboard.controllers.profiler import get_grouped_profiler as fmd

        return fmd(session, endpoint_id)
    ids = newest_profiled(conn, endpoint_id)
    stacks: dict[int, list] = defaultdict(list)
    if ids:
        rows = conn.execute(select(LINE.c.request_id, LINE.c.indent, LINE.c.duration, CODE.c.filename, CODE.c.code)
                            .join_from(LINE, CODE, CODE.c.id == LINE.c.code_id)
                            .where(LINE.c.request_id.in_(ids)).order_by(LINE.c.request_id, LINE.c.position))
        for request_id, indent, duration, filename, code in rows:
            stacks[request_id].append(SimpleNamespace(indent=indent, duration=duration,
                                                      code=SimpleNamespace(filename=filename, code=code)))
    import numpy  # here, not at load: ~15 MB a worker until a dashboard page needs it (lazy.py)

    histogram, path_hash = defaultdict(list), PathHash()
    requests = [stacks[i] for i in ids if stacks[i]]  # FMD's order: newest first
    for lines in requests:
        for index, line in enumerate(lines):
            histogram[path_hash.get_stacklines_path(lines, index)].append(line.duration)
    return [{"indent": path_hash.get_indent(key) - 1, "code": path_hash.get_code(key), "hits": len(durations),
             "duration": sum(durations), "std": numpy.std(durations), "total_hits": len(requests)}
            for key, durations in sorted(histogram.items(), key=lambda row: row[0])]
