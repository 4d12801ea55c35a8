"""flask-profiler's rollups, and its dashboard's aggregates read from them.

Tables (stores/rollups.py): ``profiler_rollup_hour`` and ``profiler_rollup_day``, one
row per (name, method, app_version, period, latency bucket), and for the page, which
only counts, ``profiler_counts_hour`` and ``profiler_counts_day`` per (name, method,
period) without buckets or versions (every test run is a version of its own: the
histogram tiers hold a hundred times more rows). flask-profiler records no status, so
the status class is 0. The store's BatchWriter rolls each batch up in its insert's
transaction; an older store is rolled up by the backfill.

The page asks for a summary per route, a timeseries and a method distribution over a
date range (90 days took 26 s at 5M rows, counting per day in a Python loop). Here each
is one SQL aggregate over the pieces of the range (stores/rollup_reads.py): whole days
and hours from the rollups, the partial hours at the ends from ``measurements`` with
the stock filters. A measurement counts in the hour it started. A filter on
``elapsed`` is a per-row filter the rollups cannot answer: store.py keeps those raw.
"""
import time
from datetime import datetime

from sqlalchemy import MetaData, String, func, literal, select, union_all

from flask_perf.stores.rollup_reads import spans
from flask_perf.stores.rollups import DAY, HOUR, Source, Tier, histogram_table, key

metadata = MetaData()


def _dims(*names):
    types = {"name": String(512), "method": String(16), "app_version": String(64)}
    return [key(name, types[name]) for name in names]


HOURLY = histogram_table(metadata, "profiler_rollup_hour", _dims("name", "method", "app_version"))
DAILY = histogram_table(metadata, "profiler_rollup_day", _dims("name", "method", "app_version"))
COUNTS_HOURLY = histogram_table(metadata, "profiler_counts_hour", _dims("name", "method"), buckets=False)
COUNTS_DAILY = histogram_table(metadata, "profiler_counts_day", _dims("name", "method"), buckets=False)
TABLES = {HOUR: COUNTS_HOURLY, DAY: COUNTS_DAILY}  # what the page reads


def source(measurements) -> Source:
    return Source("flask_profiler", measurements, time="started_at", duration="elapsed", status=None,
                  ms_per_unit=1000.0, metadata=metadata,
                  tiers=(Tier(HOURLY, HOUR), Tier(DAILY, DAY), Tier(COUNTS_HOURLY, HOUR),
                         Tier(COUNTS_DAILY, DAY)))


def _parts(raw, start: float, end: float, elapsed, keys: list[str], filters: dict,
           periods=(DAY, HOUR), by_period: bool = False) -> list:
    """One SELECT per piece of [start, end]: keys..., period, n, low, high, total (seconds).
    With an ``elapsed`` filter, one piece: the raw rows of the whole range."""
    parts = []
    for period, lo, hi in spans(start, end + 1e-6, periods if elapsed is None else ()):  # end inclusive
        table = raw if period is None else TABLES[period]
        cols = [table.c[k] for k in keys]
        conds = [table.c[k] == v for k, v in filters.items()]
        if period is None:  # a partial hour: the raw rows, with the stock filters
            when, n, low, high, total = (literal(int(lo // HOUR * HOUR)), func.count(),
                                         func.min(raw.c.elapsed), func.max(raw.c.elapsed),
                                         func.sum(raw.c.elapsed))
            conds += [raw.c.started_at >= lo, raw.c.started_at < hi, raw.c.ended_at <= end,
                      *((raw.c.elapsed >= elapsed,) if elapsed is not None else ())]
        else:
            when, n, low, high, total = (table.c.period if by_period else literal(0), func.sum(table.c.count),
                                         func.min(table.c.min_ms) / 1000, func.max(table.c.max_ms) / 1000,
                                         func.sum(table.c.total_ms) / 1000)
            conds += [table.c.period >= lo, table.c.period < hi]
            cols += [table.c.period] if by_period else []
        parts.append(select(*(table.c[k] for k in keys), when.label("period"), n.label("n"),
                            low.label("low"), high.label("high"), total.label("total"))
                     .where(*conds).group_by(*cols))
    return parts


def summary(conn, raw, start, end, elapsed, filters, order, skip, limit) -> list[dict]:
    """getSummary: per (method, name) count, min, max and average elapsed (seconds)."""
    parts = _parts(raw, start, end, elapsed, ["method", "name"], filters)
    if not parts:
        return []
    union = union_all(*parts).subquery()
    columns = {"method": union.c.method, "name": union.c.name, "count": func.sum(union.c.n),
               "minElapsed": func.min(union.c.low), "maxElapsed": func.max(union.c.high),
               "avgElapsed": func.sum(union.c.total) / func.sum(union.c.n)}
    field, descending = order
    stmt = (select(*(column.label(name) for name, column in columns.items()))
            .where(union.c.n > 0).group_by(union.c.method, union.c.name)
            .order_by(columns[field].desc() if descending else columns[field].asc(), union.c.name)
            .offset(skip).limit(limit))
    return [{"method": r.method, "name": r.name, "count": int(r.count), "minElapsed": float(r.minElapsed),
             "maxElapsed": float(r.maxElapsed), "avgElapsed": float(r.avgElapsed)}
            for r in conn.execute(stmt)]


def method_distribution(conn, raw, start, end, elapsed, filters) -> dict[str, int]:
    parts = _parts(raw, start, end, elapsed, ["method"], filters)
    if not parts:
        return {}
    union = union_all(*parts).subquery()
    stmt = select(union.c.method, func.sum(union.c.n)).where(union.c.n > 0).group_by(union.c.method)
    return {method: int(count) for method, count in conn.execute(stmt)}


def timeseries(conn, raw, start, end, elapsed, filters, daily: bool) -> dict[str, int]:
    """Requests per local hour or day ("%Y-%m-%d %H" / "%Y-%m-%d"), as flask-profiler keys them."""
    fmt = "%Y-%m-%d" if daily else "%Y-%m-%d %H"
    if elapsed is not None:  # per-row filter: hours of the matching rows, counted in SQL
        hour = func.floor(raw.c.started_at / HOUR) * HOUR
        stmt = select(hour.label("period"), func.count().label("n")).where(
            raw.c.started_at >= start, raw.c.ended_at <= end, raw.c.elapsed >= elapsed,
            *(raw.c[k] == v for k, v in filters.items())).group_by(hour)
    else:
        utc_days = daily and time.localtime(start).tm_gmtoff == 0 == time.localtime(end).tm_gmtoff
        parts = _parts(raw, start, end, None, [], filters, (DAY, HOUR) if utc_days else (HOUR,), True)
        if not parts:
            return {}
        union = union_all(*parts).subquery()
        stmt = select(union.c.period, func.sum(union.c.n)).where(union.c.n > 0).group_by(union.c.period)
    series: dict[str, int] = {}
    for period, count in conn.execute(stmt):  # one row per hour or day, not per request
        label = datetime.fromtimestamp(period).strftime(fmt)
        series[label] = series.get(label, 0) + int(count)
    return series
