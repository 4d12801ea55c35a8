"""Rolling a batch of raw rows up (``aggregate``) and merging it into the tiers (``write``).

Every store writer runs both for each batch it inserts, so they are the monitoring's
cost per request (benchmarks/request_indexes.py measures the raw indexes'): plain
loops over precomputed positions, and one compiled upsert per tier through the
driver (upsert.py).
"""
import math

from flask_perf.stores.histogram import bucket_of
from flask_perf.stores.rollups import HISTOGRAM_MERGE, SUMMARY_MERGE, Source, Tier
from flask_perf.stores.upsert import upsert_rows


def aggregate(source: Source, rows, tiers=None) -> dict[Tier, dict[tuple, list]]:
    """Per tier (``tiers``, default all): key → [count, sum, min, max] of the durations
    (summary: [count, first, last]). The writers' cost per request, in two passes: each
    row into one cell of every group column, the finest period, bucket and status class
    (one dict operation per row: a batch holds a few endpoints and buckets); then each
    tier from those cells. Every period is a multiple of the finest (whole hours from
    the epoch), so a cell's period start maps to each tier's exactly."""
    tiers = source.tiers if tiers is None else tiers
    periods = [tier.period for tier in tiers if tier.period]
    finest = math.gcd(*periods) if periods else 1
    fine: dict[tuple, list] = {}
    for row in rows:
        dims, when, ms, status = source.record(row)
        key = (dims, int(when // finest * finest), bucket_of(ms), status)
        cell = fine.get(key)
        if cell is None:
            fine[key] = [1, ms, ms, ms, when, when]
        else:
            cell[0] += 1
            cell[1] += ms
            if ms < cell[2]:
                cell[2] = ms
            if ms > cell[3]:
                cell[3] = ms
            if when < cell[4]:
                cell[4] = when
            if when > cell[5]:
                cell[5] = when
    order = list(source._empty)
    cells = {}
    for tier in tiers:
        acc = cells[tier] = {}
        picks, period, buckets = [order.index(d) for d in tier.dims], tier.period, tier.buckets
        for (dims, start, bucket, status), (n, total, low, high, first, last) in fine.items():
            base = tuple([dims[i] for i in picks])
            if period is None:
                cell = acc.get(base)
                if cell is None:
                    acc[base] = [n, first, last]
                else:
                    cell[0] += n
                    if first < cell[1]:
                        cell[1] = first
                    if last > cell[2]:
                        cell[2] = last
                continue
            start = start // period * period
            key = base + ((start, bucket, status) if buckets else (start, status))
            cell = acc.get(key)
            if cell is None:
                acc[key] = [n, total, low, high]
            else:
                cell[0] += n
                cell[1] += total
                if low < cell[2]:
                    cell[2] = low
                if high > cell[3]:
                    cell[3] = high
    return cells


def write(conn, source: Source, cells: dict[Tier, dict[tuple, list]]) -> None:
    for tier, acc in cells.items():
        if acc:
            upsert_rows(conn, tier.table, HISTOGRAM_MERGE if tier.period else SUMMARY_MERGE,
                        [(*key, *acc[key]) for key in sorted(acc)])
