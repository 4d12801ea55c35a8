"""Reading rollups: a time range cut into whole days, whole hours and raw edges; a histogram per group.

``spans(start, end)`` cuts [start, end) into the pieces each tier answers exactly:
whole days from the day tier, whole hours from the hour tier, and the partial hours at
either end from the raw rows (at most an hour of rows each, read through the time
index). ``cells(conn, source, group, where, start, end)`` gives one ``Cell`` -- a
Histogram and the count per status class -- per value of the ``group`` columns, from
the histogram tiers that have those columns, coarsest first; without a range it reads
the coarsest alone, which holds everything (also the rows retention removed from the
raw table). ``tier_cells`` reads one tier named by the caller (a dedicated one: never
chosen for a range), ``summary`` a summary tier.
Group values come back as stored: '' for a NULL string, 0 for a NULL id.
"""
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import DateTime, func, literal, select

from flask_perf.stores.histogram import Histogram, bucket_of
from flask_perf.stores.rollups import DAY, HOUR, Source


def spans(start: float, end: float, periods=(DAY, HOUR)) -> list[tuple[int | None, float, float]]:
    """(period, lo, hi) pieces of [start, end); period None: read the raw rows."""
    if start >= end:
        return []
    if not periods:
        return [(None, start, end)]
    period, finer = periods[0], periods[1:]
    first, last = math.ceil(start / period) * period, math.floor(end / period) * period
    if first >= last:
        return spans(start, end, finer)
    return spans(start, first, finer) + [(period, first, last)] + spans(last, end, finer)


@dataclass
class Cell:
    hist: Histogram = field(default_factory=Histogram)
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def count(self) -> int:
        return self.hist.count

    def errors(self, classes=(4, 5)) -> int:
        return sum(self.statuses[c] for c in classes)


def _between(source: Source, lo: float, hi: float) -> list:
    """The raw rows of [lo, hi) (epoch seconds; naive UTC for a DateTime column)."""
    when = source.raw.c[source.time]
    if isinstance(when.type, DateTime):
        lo, hi = (datetime.fromtimestamp(t, timezone.utc).replace(tzinfo=None) for t in (lo, hi))
    return [when >= lo, when < hi]


def _conditions(columns, where: dict) -> list:
    return [columns[name].in_(list(value)) if isinstance(value, (list, tuple, set))
            else columns[name] == value for name, value in where.items()]


def cells(conn, source: Source, group: tuple[str, ...], where: dict | None = None,
          start: float | None = None, end: float | None = None) -> dict[tuple, Cell]:
    where, out = where or {}, defaultdict(Cell)
    needed = {*group, *where}
    tiers = {t.period: t for t in source.tiers if t.buckets and not t.dedicated and needed <= set(t.dims)}
    tiers = dict(sorted(tiers.items(), reverse=True))  # coarsest first
    if start is None and end is None:  # everything: the coarsest tier holds it all
        _tier(conn, next(iter(tiers.values())).table, group, where, None, None, out)
        return out
    if end is None:  # up to now, on a day boundary: no raw rows to read at that end
        end = (time.time() // DAY + 2) * DAY
    for period, lo, hi in spans(start or 0.0, end, tuple(tiers)):
        if period is None:
            _raw(conn, source, group, where, lo, hi, out)
        else:
            _tier(conn, tiers[period].table, group, where, lo, hi, out)
    return out


def tier_cells(conn, table, group: tuple[str, ...], where: dict | None = None) -> dict[tuple, Cell]:
    """One ``Cell`` per value of ``group`` from every period of one histogram tier."""
    out = defaultdict(Cell)
    _tier(conn, table, group, where or {}, None, None, out)
    return out


def _tier(conn, table, group, where, lo, hi, out) -> None:
    cols = [table.c[name] for name in group]
    conds = _conditions(table.c, where)
    if lo is not None:
        conds += [table.c.period >= lo, table.c.period < hi]
    stmt = (select(*cols, table.c.bucket, table.c.status_class, func.sum(table.c.count),
                   func.sum(table.c.total_ms), func.min(table.c.min_ms), func.max(table.c.max_ms))
            .where(*conds).group_by(*cols, table.c.bucket, table.c.status_class))
    width = len(group)
    for row in conn.execute(stmt):
        cell = out[tuple(row[:width])]
        bucket, status, count, total, low, high = row[width:]
        cell.hist.add(bucket, int(count), float(total), float(low), float(high))
        cell.statuses[status] += int(count)


def _raw(conn, source: Source, group, where, lo, hi, out) -> None:
    raw = source.raw
    status = raw.c[source.status] if source.status else None
    stmt = select(*(raw.c[name] for name in group), raw.c[source.duration],
                  *((status,) if status is not None else ())).where(
        *_between(source, lo, hi), *_conditions(raw.c, where))
    width = len(group)
    for row in conn.execute(stmt):
        cell = out[tuple(source.stored(name, value) for name, value in zip(group, row[:width]))]
        ms = float(row[width] or 0) * source.ms_per_unit
        cell.hist.add(bucket_of(ms), 1, ms, ms, ms)
        cell.statuses[min(9, max(0, int(row[width + 1] or 0) // 100)) if status is not None else 0] += 1


def per_hour(conn, source: Source, group: tuple[str, ...], where: dict | None, start: float,
             end: float) -> dict[tuple, int]:
    """(group values..., hour start as epoch seconds) → requests, from the hour tier and the
    raw rows of the partial hours at either end."""
    where, out = where or {}, defaultdict(int)
    tier = next(t for t in source.tiers if t.period == HOUR and t.buckets and not t.dedicated
                and {*group, *where} <= set(t.dims))
    for period, lo, hi in spans(start, end, (HOUR,)):
        table = source.raw if period is None else tier.table
        cols = [table.c[name] for name in group]
        conds = _conditions(table.c, where)
        if period is None:  # within one hour
            stmt = select(*cols, literal(int(lo // HOUR * HOUR)), func.count()).where(
                *_between(source, lo, hi), *conds)
        else:
            stmt = select(*cols, table.c.period, func.sum(table.c.count)).where(
                table.c.period >= lo, table.c.period < hi, *conds)
            cols.append(table.c.period)
        for row in conn.execute(stmt.group_by(*cols)):
            out[(*(source.stored(n, v) for n, v in zip(group, row[:-2])), int(row[-2]))] += int(row[-1])
    return out


def summary(conn, table, group: tuple[str, ...], where: dict | None = None) -> dict[tuple, tuple]:
    """group values → (count, first, last as epoch seconds) from a summary tier."""
    cols = [table.c[name] for name in group]
    stmt = (select(*cols, func.sum(table.c.count), func.min(table.c.first_at), func.max(table.c.last_at))
            .where(*_conditions(table.c, where or {})).group_by(*cols))
    width = len(group)
    return {tuple(row[:width]): (int(row[width]), float(row[width + 1]), float(row[width + 2]))
            for row in conn.execute(stmt)}
