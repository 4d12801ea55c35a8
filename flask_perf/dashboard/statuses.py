"""FMD's status-code page: the distribution from a rollup, the newest error requests (rows of patches.py).

FMD 5.1 counts the endpoint's requests per status code over every ``Request`` row of
it and sends every request that answered 4xx or 5xx, whole (0.45 s and 2 MB of JSON for
9,000 error rows at 1M requests; a table nobody scrolls to the end of). Here the
distribution comes from the status tier (rollups.py: a count per endpoint and status
code), and the table lists the newest ``ERROR_ROWS`` error requests: their ids from the
(endpoint_id, status_code) index alone, then those rows. While an older store's history
is still being rolled up, FMD's own computation answers (the tier is not complete).
"""
from sqlalchemy import select

from flask_perf.dashboard.rollups import REQUEST, SOURCE, STATUSES
from flask_perf.stores.backfill import pending
from flask_perf.stores.rollup_reads import summary

ERROR_ROWS = 200


def get_status_code_distribution(session, endpoint_id) -> dict:
    """FMD's ``get_status_code_distribution``: status code → share of the endpoint's requests."""
    if pending(session.connection(), SOURCE):
        from flask_monitoringdashboard.controllers.requests import get_status_code_distribution as fmd

        return fmd(session, endpoint_id)
    counts = {code: n for (code,), (n, _first, _last) in
              summary(session.connection(), STATUSES, ("status_code",), {"endpoint_id": endpoint_id}).items()
              if code}  # 0: no status recorded, which FMD leaves out
    total = sum(counts.values())
    return {code: n / total for code, n in counts.items()}


def get_error_requests(session, endpoint_id, *criterion) -> list:
    """FMD's ``get_error_requests`` (the endpoint's 4xx and 5xx requests), the newest
    ``ERROR_ROWS`` of them, newest first; with ``criterion``, FMD's own."""
    from flask_monitoringdashboard.database import Request

    if criterion:
        from flask_monitoringdashboard.controllers.requests import get_error_requests as fmd

        return fmd(session, endpoint_id, *criterion)
    ids = session.execute(select(REQUEST.c.id).where(
        REQUEST.c.endpoint_id == endpoint_id, REQUEST.c.status_code >= 400, REQUEST.c.status_code <= 599)
        .order_by(REQUEST.c.id.desc()).limit(ERROR_ROWS)).scalars().all()
    if not ids:
        return []
    return session.query(Request).filter(Request.id.in_(ids)).order_by(Request.id.desc()).all()
