"""The level-3 call stacks ``flask perf report`` classifies: a sample of the newest per endpoint.

The newest 2,000 profiled requests that answered below 400 and were sampled beyond
the view's header, at most ``per_endpoint`` per endpoint. They are read from
``fmd_profiled`` (dashboard/profiled.py: one row per profiled request) newest first,
each request and its stack by primary key; a store without that table complete is
read as before, through the ids of every stack line below a header (0.6 s at 1M
requests, a scan of ``StackLine``).
"""
from collections import defaultdict

from sqlalchemy import column, func, select, table

from flask_perf.report.classify import Shares, StackRow, classify_stack
from flask_perf.stores.engines import store_engine, store_url

NEWEST = 2000
_REQUEST = table("Request", column("id"), column("endpoint_id"), column("status_code"))
_ENDPOINT = table("Endpoint", column("id"), column("name"))
_LINE = table("StackLine", column("request_id"), column("code_id"), column("position"),
              column("indent"), column("duration"))
_CODE = table("CodeLine", column("id"), column("filename"), column("function_name"))


def _sampled(conn):
    """(request id, endpoint name) of the newest profiled requests, newest first."""
    from flask_perf.dashboard.profiled import PROFILED, ready

    request, line = _REQUEST.c, _LINE.c
    if ready(conn):  # + 0: walk fmd_profiled newest first, never Request by endpoint
        deepest = select(func.max(line.indent)).where(line.request_id == PROFILED.c.request_id).scalar_subquery()
        beyond_header = deepest > 0  # not EXISTS: MariaDB makes that a semi-join reading all of StackLine
        return (select(PROFILED.c.request_id, _ENDPOINT.c.name)
                .join_from(PROFILED, _REQUEST, request.id == PROFILED.c.request_id)
                .join(_ENDPOINT, _ENDPOINT.c.id == request.endpoint_id + 0)
                .where(request.status_code < 400, beyond_header)
                .order_by(PROFILED.c.request_id.desc()).limit(NEWEST))
    return (select(request.id, _ENDPOINT.c.name).join(_ENDPOINT, _ENDPOINT.c.id == request.endpoint_id)
            .where(request.status_code < 400, request.id.in_(select(line.request_id).where(line.indent > 0)))
            .order_by(request.id.desc()).limit(NEWEST))


def stack_bottlenecks(app, per_endpoint: int) -> list[dict]:
    """Rows ``{"endpoint", "source", "shares"}`` of the sampled stacks, per endpoint."""
    engine = store_engine(store_url(app, "PERF_DASHBOARD_DATABASE_URL", "dashboard.db"))
    line, code = _LINE.c, _CODE.c
    try:
        with engine.connect() as conn:
            chosen: dict[str, list[int]] = defaultdict(list)
            for request_id, name in conn.execute(_sampled(conn)):
                if len(chosen[name]) < per_endpoint:
                    chosen[name].append(request_id)
            ids = [i for group in chosen.values() for i in group]
            lines = (select(line.request_id, line.indent, line.duration, code.filename, code.function_name)
                     .join_from(_LINE, _CODE, code.id == line.code_id)
                     .where(line.request_id.in_(ids)).order_by(line.request_id, line.position))
            per_request = defaultdict(list)
            for request_id, *row in (conn.execute(lines) if ids else ()):
                per_request[request_id].append(StackRow(*row))
    except Exception:  # no dashboard store (yet)
        return []
    finally:
        engine.dispose()
    return [{"endpoint": name, "source": f"{len(ids)} level-3 call stacks",
             "shares": sum((classify_stack(per_request[i]) for i in ids), Shares(profiles=0))}
            for name, ids in chosen.items()]
