"""FMD's overview, API-performance and hit counts, read from the rollups (rows of patches.py).

FMD 5.1 computes these from every ``Request`` row: hits per endpoint today, this week
and overall, and three medians per endpoint by pulling every duration into numpy (the
overview took 15 s at 1M requests, 143 s at 5M); ``get_endpoints`` orders the
endpoints by a count over the whole table. Here the same JSON comes from the rollups
(rollups.py): overall from the day tier, a window from whole days, whole hours and the
raw rows of its first partial hour (stores/rollup_reads.py). Counts are exact, medians
within the histogram's 4 %. Box-plot inputs are 10 representative values (FMD's
``simplify(values, 10)``). FMD's count helpers keep answering any filtered count.
FMD's in-memory cache, filled at every start from two scans of ``Request`` (2.8 s at
5M requests in every worker and CLI command), gets its hits and averages from the
rollups too, once an older store's backfill is done.
FMD's ``database`` package is imported in the functions: importing it creates FMD's
engine, which must wait until FMD is configured.
"""
import datetime

from flask_monitoringdashboard.core.blueprints import get_blueprint
from flask_monitoringdashboard.core.colors import get_color
from flask_monitoringdashboard.core.timezone import to_local_datetime, to_utc_datetime
from sqlalchemy import func, select

from flask_perf.dashboard.rollups import ENDPOINT, MONTHLY, SOURCE, SUMMARY
from flask_perf.stores.backfill import pending
from flask_perf.stores.rollup_reads import Cell, cells, summary

REPRESENTATIVE = 10  # values per box plot (FMD sent 100 per version or user)
_NONE = Cell()


def as_datetime(epoch: float) -> datetime.datetime:
    """A rollup time as FMD stores its times: naive UTC."""
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).replace(tzinfo=None)


def shown(value):
    """A stored group value as FMD shows it ('' was NULL)."""
    return None if value == "" else value


def endpoint_ids(session, names) -> dict[str, int]:
    """Endpoint name → id (FMD's ``get_endpoint_by_name`` would create the missing ones)."""
    rows = session.execute(select(ENDPOINT.c.name, ENDPOINT.c.id).where(ENDPOINT.c.name.in_(list(names))))
    return dict(rows.all())


def get_endpoint_overview(session):
    """FMD's ``controllers.endpoints.get_endpoint_overview``, from the rollups."""
    from flask_monitoringdashboard.core import cache

    from flask_perf.dashboard.occurrences import grouped_exceptions_per_endpoint

    now = datetime.datetime.now(datetime.timezone.utc)
    today = to_utc_datetime(to_local_datetime(now).replace(hour=0, minute=0, second=0, microsecond=0))
    cache.flush_cache()  # the last-requested times, as FMD's overview does first
    conn = session.connection()
    group = ("endpoint_id",)
    today = cells(conn, SOURCE, group, start=today.timestamp())
    week = cells(conn, SOURCE, group, start=(now - datetime.timedelta(days=7)).timestamp())
    overall = cells(conn, SOURCE, group)
    exceptions = grouped_exceptions_per_endpoint(session)
    endpoints = sorted(session.execute(select(ENDPOINT)).all(),
                       key=lambda e: -overall.get((e.id,), _NONE).count)

    def numbers(name: str, found, endpoint_id: int) -> dict:
        cell = found.get((endpoint_id,), _NONE)
        return {f"hits-{name}": cell.count, f"median-{name}": cell.hist.median() if cell.count else 0,
                **({} if name == "overall" else {f"hits-{name}-errors": cell.errors()})}

    return [{"id": e.id, "name": e.name, "blueprint": get_blueprint(e.name), "monitor": e.monitor_level,
             "color": get_color(e.name), **numbers("today", today, e.id), **numbers("week", week, e.id),
             **numbers("overall", overall, e.id), "last-accessed": e.last_requested,
             "exceptions": exceptions.get(e.id, 0)} for e in endpoints]


def get_api_performance(session, endpoints):
    """FMD's ``get_api_performance``: 10 representative durations per endpoint, all time."""
    ids = endpoint_ids(session, endpoints)
    found = cells(session.connection(), SOURCE, ("endpoint_id",), where={"endpoint_id": list(ids.values())})
    return [{"name": name, "values": found.get((ids.get(name),), _NONE).hist.representative(REPRESENTATIVE)}
            for name in endpoints]


def hits_per_endpoint(session, where: dict | None = None) -> dict[int, int]:
    rows = summary(session.connection(), SUMMARY, ("endpoint_id",), where)
    return {endpoint_id: count for (endpoint_id,), (count, _first, _last) in rows.items()}


def get_endpoints_hits(session):
    """FMD's ``get_endpoints_hits``: (name, hits) of the endpoints with hits, most first."""
    hits = hits_per_endpoint(session)
    names = dict(session.execute(select(ENDPOINT.c.id, ENDPOINT.c.name)).all())
    return sorted(((names[i], n) for i, n in hits.items() if i in names and n),
                  key=lambda pair: -pair[1])


def cached_hits(session):
    """FMD's ``get_endpoints_hits`` for its cache at start (a scan of every request: 0.8 s at 5M
    requests, in every worker and CLI command); FMD's own while older rows are rolled up."""
    if pending(session.connection(), SOURCE):
        from flask_monitoringdashboard.database.endpoint import get_endpoints_hits as fmd_hits

        return fmd_hits(session)
    return get_endpoints_hits(session)


def cached_averages(session):
    """FMD's ``get_endpoint_averages`` (its cache at start: 2 s at 5M), from the month tier."""
    if pending(session.connection(), SOURCE):
        from flask_monitoringdashboard.database.endpoint import get_endpoint_averages as fmd_averages

        return fmd_averages(session)
    month = MONTHLY.c
    sums = session.execute(select(month.endpoint_id, func.sum(month.total_ms), func.sum(month.count))
                           .group_by(month.endpoint_id)).all()
    average = {endpoint_id: float(total) / int(count) for endpoint_id, total, count in sums if count}
    return [(name, average.get(endpoint_id)) for endpoint_id, name in
            session.execute(select(ENDPOINT.c.id, ENDPOINT.c.name)).all()]


def count_requests(session, endpoint_id, *where):
    """FMD's ``count_requests`` (the endpoint page's total hits); filtered counts stay FMD's."""
    if where:
        from flask_monitoringdashboard.database.count import count_requests as fmd_count_requests

        return fmd_count_requests(session, endpoint_id, *where)
    return hits_per_endpoint(session, {"endpoint_id": endpoint_id}).get(endpoint_id, 0)


def count_total_requests(session, *where):
    """FMD's ``count_total_requests`` (the deployment page); filtered counts stay FMD's."""
    if where:
        from flask_monitoringdashboard.database.count import count_total_requests as fmd_count_total

        return fmd_count_total(session, *where)
    return sum(hits_per_endpoint(session).values())
