"""Rolling a batch of raw rows up (``aggregate``) and merging it into the tiers (``write``).

Every store writer runs both for each batch it inserts, so they are the monitoring's
cost per request (benchmarks/request_indexes.py measures the raw indexes'): plain
loops over precomputed positions, and one compiled upsert per tier through the
driver (upsert.py).
"""
from flask_perf.stores.histogram import bucket_of
from flask_perf.stores.rollups import HISTOGRAM_MERGE, SUMMARY_MERGE, Source, Tier
from flask_perf.stores.upsert import upsert_rows


def aggregate(source: Source, rows, tiers=None) -> dict[Tier, dict[tuple, list]]:
    """Per tier (``tiers``, default all): key → [count, sum, min, max] of the durations
    (summary: [count, first, last]). The writers' cost per request: kept to plain loops."""
    tiers = source.tiers if tiers is None else tiers
    cells = {tier: {} for tier in tiers}
    order = list(source._empty)
    plans = [(cells[tier], [order.index(d) for d in tier.dims], tier.period, tier.buckets) for tier in tiers]
    for row in rows:
        dims, when, ms, status = source.record(row)
        bucket = bucket_of(ms)
        for acc, picks, period, buckets in plans:
            base = tuple([dims[i] for i in picks])
            if period is None:
                cell = acc.get(base)
                if cell is None:
                    acc[base] = [1, when, when]
                else:
                    cell[0] += 1
                    if when < cell[1]:
                        cell[1] = when
                    if when > cell[2]:
                        cell[2] = when
                continue
            start = int(when // period * period)
            key = base + ((start, bucket, status) if buckets else (start, status))
            cell = acc.get(key)
            if cell is None:
                acc[key] = [1, ms, ms, ms]
            else:
                cell[0] += 1
                cell[1] += ms
                if ms < cell[2]:
                    cell[2] = ms
                if ms > cell[3]:
                    cell[3] = ms
    return cells


def write(conn, source: Source, cells: dict[Tier, dict[tuple, list]]) -> None:
    for tier, acc in cells.items():
        if acc:
            upsert_rows(conn, tier.table, HISTOGRAM_MERGE if tier.period else SUMMARY_MERGE,
                        [(*key, *acc[key]) for key in sorted(acc)])
