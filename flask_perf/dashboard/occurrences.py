"""FMD's exception and outlier views, read from their own small tables first (rows of patches.py).

Exceptions and outlier records hang off a few requests in thousands. FMD 5.1 joins
them to ``Request`` and ``Endpoint`` and leaves the order to the planner, which
walked every request of each endpoint and probed the small table for each (SQLite
believed an endpoint had a thousand requests: its sampled statistics): the exception
list took 0.4 s at 1M requests, the counts 0.1-0.3 s, growing with the store. Here
each query reads ``ExceptionOccurrence`` or ``Outlier`` and finds each row's request
by its primary key (``+ 0`` on ``endpoint_id`` keeps any planner from walking
``Request`` by endpoint), so the cost follows the exceptions and outliers kept (the
outlier table walked an endpoint's requests newest first until it had found a page:
all of them for an endpoint without outliers). The exception list is grouped and
ordered in SQL, then named; the outliers' CPU loads come from an index
(``Outlier (request_id, cpu_percent)``: their rows hold kilobytes of headers and stack
traces). Same JSON as FMD's.
"""
import ast
import json

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, distinct, func, select

from flask_perf.dashboard.rollups import ENDPOINT, REQUEST

_md = MetaData()
OCCURRENCE = Table("ExceptionOccurrence", _md, Column("id", Integer, primary_key=True),
                   Column("request_id", Integer), Column("exception_type_id", Integer),
                   Column("exception_msg_id", Integer), Column("stack_trace_snapshot_id", Integer))
TYPE = Table("ExceptionType", _md, Column("id", Integer, primary_key=True), Column("type", String(256)))
MESSAGE = Table("ExceptionMessage", _md, Column("id", Integer, primary_key=True), Column("message", Text))
OUTLIER = Table("Outlier", _md, Column("id", Integer, primary_key=True), Column("request_id", Integer),
                Column("cpu_percent", String(150)))
_ENDPOINT_ID = (REQUEST.c.endpoint_id + 0).label("endpoint_id")  # never an index walk of Request


def _with_request(small):
    return small.join(REQUEST, REQUEST.c.id == small.c.request_id)


def count_grouped_exceptions(session) -> int:
    """FMD's ``count_grouped_exceptions``: (endpoint, stack trace) groups of exceptions."""
    groups = (select(_ENDPOINT_ID, OCCURRENCE.c.stack_trace_snapshot_id).select_from(_with_request(OCCURRENCE))
              .group_by(_ENDPOINT_ID, OCCURRENCE.c.stack_trace_snapshot_id).subquery())
    return session.execute(select(func.count()).select_from(groups)).scalar_one()


def count_endpoint_grouped_exceptions(session, endpoint_id) -> int:
    """FMD's ``count_endpoint_grouped_exceptions``: the stack traces an endpoint raised."""
    return session.execute(select(func.count(distinct(OCCURRENCE.c.stack_trace_snapshot_id)))
                           .select_from(_with_request(OCCURRENCE))
                           .where(_ENDPOINT_ID == endpoint_id)).scalar_one()


def grouped_exceptions_per_endpoint(session) -> dict[int, int]:
    """FMD's ``count_grouped_exceptions_per_endpoint`` (the overview): endpoint id → stack traces."""
    return dict(session.execute(select(_ENDPOINT_ID, func.count(distinct(OCCURRENCE.c.stack_trace_snapshot_id)))
                                .select_from(_with_request(OCCURRENCE)).group_by(_ENDPOINT_ID)).all())


def get_exception_groups(session, offset: int, per_page: int) -> list[dict]:
    """FMD's ``controllers.exceptions.get_exception_groups``: a page of (endpoint, type,
    message, stack trace) groups, the most recently raised first."""
    occ = OCCURRENCE.c
    latest = func.max(REQUEST.c.time_requested).label("latest")
    groups = (select(_ENDPOINT_ID, occ.exception_type_id, occ.exception_msg_id, occ.stack_trace_snapshot_id,
                     latest, func.min(REQUEST.c.time_requested).label("first"), func.count().label("count"))
              .select_from(_with_request(OCCURRENCE))
              .group_by(_ENDPOINT_ID, occ.exception_type_id, occ.exception_msg_id, occ.stack_trace_snapshot_id)
              .subquery())
    stmt = (select(TYPE.c.type, MESSAGE.c.message, ENDPOINT.c.name, ENDPOINT.c.id, groups.c.latest,
                   groups.c.first, groups.c.count)
            .join_from(groups, ENDPOINT, ENDPOINT.c.id == groups.c.endpoint_id)
            .join(TYPE, TYPE.c.id == groups.c.exception_type_id)
            .join(MESSAGE, MESSAGE.c.id == groups.c.exception_msg_id)
            .order_by(groups.c.latest.desc(), groups.c.stack_trace_snapshot_id).offset(offset).limit(per_page))
    return [{"type": kind, "message": message, "endpoint": name, "endpoint_id": ident,
             "latest_timestamp": latest_at, "first_timestamp": first_at, "count": count}
            for kind, message, name, ident, latest_at, first_at, count in session.execute(stmt)]


def count_outliers(session, endpoint_id) -> int:
    """FMD's ``count_outliers``: the endpoint's requests with an outlier record."""
    return session.execute(select(func.count(distinct(REQUEST.c.id))).select_from(_with_request(OUTLIER))
                           .where(_ENDPOINT_ID == endpoint_id)).scalar_one()


def get_outlier_graph(session, endpoint_id) -> list[dict]:
    """FMD's ``controllers.outliers.get_outlier_graph``: each CPU core's load at the outliers."""
    from flask_monitoringdashboard.core.colors import get_color

    cpus = session.execute(select(OUTLIER.c.cpu_percent).select_from(_with_request(OUTLIER))
                           .where(_ENDPOINT_ID == endpoint_id)).scalars().all()
    cpu_data = [_loads(cpu) for cpu in cpus]
    return [{"name": "CPU core %d" % idx, "values": _simplify(data, 50), "color": get_color(idx)}
            for idx, data in enumerate(zip(*cpu_data))]


def _loads(cpu: str) -> list:
    """FMD's ``ast.literal_eval`` of a stored ``[35.0, 22.5]``, five times faster as JSON."""
    try:
        return json.loads(cpu)
    except ValueError:
        return ast.literal_eval(cpu)


def _simplify(values, n: int) -> list:
    """FMD's ``simplify``: the values, or ``n`` percentiles of them (computed in one call)."""
    if len(values) <= n:
        return values
    import numpy  # here, not at load: ~15 MB a worker until a dashboard page needs it (lazy.py)

    return list(numpy.percentile(numpy.asarray(values), [i * 100 // (n - 1) for i in range(n)]))


def get_outlier_table(session, endpoint_id, offset, per_page) -> list[dict]:
    """FMD's ``controllers.outliers.get_outlier_table``: a page of the endpoint's outliers,
    the most recent request first."""
    from flask_monitoringdashboard.core.timezone import to_local_datetime
    from flask_monitoringdashboard.database import Outlier, Request, row2dict
    from sqlalchemy.orm import joinedload

    ids = session.execute(select(OUTLIER.c.id).select_from(_with_request(OUTLIER))
                          .where(_ENDPOINT_ID == endpoint_id)
                          .order_by(REQUEST.c.time_requested.desc(), OUTLIER.c.id.desc())
                          .offset(int(offset)).limit(int(per_page))).scalars().all()
    rows = (session.query(Outlier).options(joinedload(Outlier.request).joinedload(Request.endpoint))
            .filter(Outlier.id.in_(ids)).all()) if ids else []
    session.expunge_all()
    order = {ident: i for i, ident in enumerate(ids)}
    table = []
    for row in sorted(rows, key=lambda outlier: order[outlier.id]):
        row.request.time_requested = to_local_datetime(row.request.time_requested)
        if isinstance(row.request_url, bytes):
            row.request_url = row.request_url.decode("utf-8", "replace")
        request = row2dict(row.request)
        table.append({**row2dict(row), "request": request})
    return table
