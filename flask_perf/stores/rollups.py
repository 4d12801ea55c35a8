"""Rollups: latency histograms per hour and per day, kept by the store writers.

A ``Source`` is a raw table a page aggregates (the dashboard's ``Request``,
flask-profiler's ``measurements``) with its tiers: histograms per hour and per day (and
30 days), one row per (group columns, period, latency bucket, status class) holding
count, sum, min and max of the durations (histogram.py) -- or, for pages that only
count, the same without the bucket -- and optionally a summary per group (count, first
and last time) for lists of versions and users. A source is the ``on_batch`` hook of its
BatchWriter: ``source(conn, rows)`` aggregates the batch in Python and upserts each tier
in one statement inside the insert's transaction (SQLite and PostgreSQL ``INSERT … ON
CONFLICT DO UPDATE``, MariaDB/MySQL ``INSERT … ON DUPLICATE KEY UPDATE``), so rows and
rollups commit or roll back together and counts stay exact. Keys are written in sorted
order: concurrent writers lock rollup rows in the same order instead of deadlocking.
The group columns carry the raw table's column names; NULL is stored as '' (0 for ids).
"""
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import BigInteger, Column, Double, Index, Integer, MetaData, SmallInteger, Table


HOUR, DAY, MONTH = 3600, 86400, 30 * 86400  # MONTH: fixed 30-day periods from the epoch
HISTOGRAM_MERGE = {"count": "sum", "total_ms": "sum", "min_ms": "min", "max_ms": "max"}
SUMMARY_MERGE = {"count": "sum", "first_at": "min", "last_at": "max"}
_OPTIONS = {"mysql_collate": "utf8mb4_bin", "sqlite_with_rowid": False}  # keys compared exactly
_EPOCH = datetime(1970, 1, 1)


def histogram_table(metadata: MetaData, name: str, dims: list[Column], buckets: bool = True) -> Table:
    """Rows per (dims, period, latency bucket, status class); ``buckets=False``: totals only,
    for pages that only count (far fewer rows)."""
    return Table(name, metadata, *dims,
                 Column("period", BigInteger, primary_key=True, autoincrement=False),  # epoch s
                 *([Column("bucket", SmallInteger, primary_key=True, autoincrement=False)]
                   if buckets else []),
                 Column("status_class", SmallInteger, primary_key=True, autoincrement=False),
                 Column("count", BigInteger, nullable=False), Column("total_ms", Double, nullable=False),
                 Column("min_ms", Double, nullable=False), Column("max_ms", Double, nullable=False),
                 Index(f"ix_{name}_period", "period"), **_OPTIONS)


def summary_table(metadata: MetaData, name: str, dims: list[Column]) -> Table:
    return Table(name, metadata, *dims, Column("count", BigInteger, nullable=False),
                 Column("first_at", Double, nullable=False), Column("last_at", Double, nullable=False),
                 **_OPTIONS)


def key(name: str, type_) -> Column:
    """A group column of a rollup table (part of its primary key)."""
    return Column(name, type_, primary_key=True, autoincrement=False)


@dataclass(eq=False)
class Tier:
    table: Table
    period: int | None  # seconds; None: the summary
    dedicated: bool = False  # read only when named (rollup_reads.tier_cells), never chosen for a range
    dims: tuple[str, ...] = field(init=False)  # its group columns
    buckets: bool = field(init=False)  # a histogram (else totals per period, or the summary)

    def __post_init__(self):
        skip = {"period", "bucket", "status_class"}
        self.dims = tuple(c.name for c in self.table.primary_key.columns if c.name not in skip)
        self.buckets = "bucket" in self.table.c


@dataclass(eq=False)
class Source:
    name: str  # its row in the backfill progress table
    raw: Table
    time: str  # raw columns: a datetime (naive = UTC) or epoch seconds
    duration: str
    status: str | None
    ms_per_unit: float  # 1000 when durations are stored in seconds
    tiers: tuple[Tier, ...]
    metadata: MetaData
    _empty: dict = field(default_factory=dict)
    on_write: list = field(default_factory=list)  # called (no arguments) before each write

    def __post_init__(self):
        for tier in self.tiers:
            for dim in tier.dims:
                self._empty[dim] = 0 if isinstance(tier.table.c[dim].type, Integer) else ""

    def stored(self, dim: str, value):
        """How a group value is kept in the rollups (NULL as '' or 0)."""
        return self._empty[dim] if value is None else value

    def raw_columns(self) -> list[Column]:
        """The raw columns a roll-up reads (never the big text ones), each once."""
        names = ("id", *self._empty, self.time, self.duration, *((self.status,) if self.status else ()))
        return [self.raw.c[name] for name in dict.fromkeys(names)]

    def __call__(self, conn, rows) -> None:
        """BatchWriter's ``on_batch`` (and any other writer's): roll ``rows`` up in the insert's
        transaction. ``on_write`` hooks run first (the backfill starts with any first write)."""
        for hook in self.on_write:
            hook()
        write(conn, self, aggregate(self, rows))

    def create_schema(self, engine) -> None:
        """The rollup tables, and where the backfill of older rows starts (backfill.py)."""
        from flask_perf.stores import backfill_marker

        self.metadata.create_all(engine)
        backfill_marker.start_marker(engine, self)

    def record(self, row) -> tuple[tuple, float, float, int]:
        """(group values in ``_empty``'s order, epoch seconds, duration ms, status class) of a raw row."""
        get = row.get
        dims = tuple([empty if (v := get(dim)) is None else v for dim, empty in self._empty.items()])
        when = get(self.time)
        if isinstance(when, datetime):
            when = (when - _EPOCH).total_seconds() if when.tzinfo is None else when.timestamp()
        status = get(self.status) if self.status else None
        return dims, float(when or 0), float(get(self.duration) or 0) * self.ms_per_unit, \
            min(9, max(0, int(status or 0) // 100))


from flask_perf.stores.rollup_writes import aggregate, write  # noqa: E402 - they use Source and Tier
