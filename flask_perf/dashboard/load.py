"""FMD's hourly load, daily requests and endpoint list, counted from the rollups (rows of patches.py).

FMD 5.1 fetches the time of every request in the range and counts them per hour in
Python (the hourly-load heat map of a week read 0.4M rows at 1M requests), counts
per day with one query per day, and orders its endpoint list by a count over the
whole ``Request`` table. Here the counts come from the hour tier and the raw rows of
the partial hours at either end (stores/rollup_reads.per_hour), and the endpoints are
ordered by the summary tier's hits. Same JSON shapes; counts exact.
"""
import bisect
import datetime

from flask_monitoringdashboard.core.timezone import to_local_datetime, to_utc_datetime

from flask_perf.dashboard.overview import hits_per_endpoint
from flask_perf.dashboard.rollups import SOURCE
from flask_perf.stores.rollup_reads import per_hour

HOURS = [f"{h:02d}:00" for h in range(24)]


def get_endpoints(session):
    """FMD's ``database.endpoint.get_endpoints``: every Endpoint, the most requested first."""
    from flask_monitoringdashboard.database import Endpoint

    hits = hits_per_endpoint(session)
    return sorted(session.query(Endpoint).all(), key=lambda endpoint: -hits.get(endpoint.id, 0))


def _local_midnight(day) -> datetime.datetime:
    return to_utc_datetime(datetime.datetime.combine(day, datetime.time(0, 0, 0, 0)))


def get_hourly_load(session, endpoint_id, start_date, end_date):
    """FMD's ``controllers.requests.get_hourly_load``: requests per hour of day (rows) and day."""
    days = (end_date - start_date).days + 1
    start = _local_midnight(start_date)
    end = to_utc_datetime(datetime.datetime.combine(end_date, datetime.time(23, 59, 59)))
    where = {"endpoint_id": endpoint_id} if endpoint_id else {}
    heatmap = [[0.0] * days for _ in HOURS]
    counts = per_hour(session.connection(), SOURCE, (), where, start.timestamp(), end.timestamp() + 1e-6)
    for (hour,), count in counts.items():
        moment = datetime.datetime.fromtimestamp(hour, datetime.timezone.utc)
        heatmap[int(to_local_datetime(moment).strftime("%H"))][(moment - start).days] = float(count)
    return {"days": [(start_date + datetime.timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days)],
            "data": heatmap}


def get_num_requests_data(session, start_date, end_date):
    """FMD's ``get_num_requests_data``: requests per endpoint and local day."""
    days = [start_date + datetime.timedelta(days=i) for i in range((end_date - start_date).days + 1)]
    bounds = [_local_midnight(day).timestamp() for day in days + [days[-1] + datetime.timedelta(days=1)]]
    counts = per_hour(session.connection(), SOURCE, ("endpoint_id",), {}, bounds[0], bounds[-1])
    per_day: dict = {}
    for (endpoint_id, hour), count in counts.items():
        index = bisect.bisect_right(bounds, hour) - 1  # the local day the hour starts in
        per_day[(endpoint_id, index)] = per_day.get((endpoint_id, index), 0) + count
    return {"days": [day.strftime("%Y-%m-%d") for day in days],
            "data": [{"name": e.name, "values": [per_day.get((e.id, i), 0) for i in range(len(days))]}
                     for e in get_endpoints(session)]}
