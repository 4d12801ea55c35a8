"""Where a store's backfill stands: one progress row per source, and what a new release adds.

When a source's rollup tables are first created in a store, ``start_marker`` records
the highest raw id there is (``high_id``): the writers roll up every newer row as they
insert it, the backfill (backfill.py) every row up to it, so nothing is counted twice.
The row's ``layout`` names the source's tier tables. When a release adds tiers to a
source whose history is all rolled up, only the new tiers are filled, from every raw
row still kept up to the highest id at that start (older releases' writers never
wrote them): the layout then reads ``<all tiers>;<tiers being filled>``, and the
tiers already there keep their history (also what retention removed from the raw
rows). Any other change -- a tier removed or renamed, or a release added while the
previous backfill was still running -- empties every tier and rebuilds them from the
raw rows still kept.
"""
import time

from sqlalchemy import (BigInteger, Column, Double, MetaData, String, Table, delete, func, insert,
                        select, update)
from sqlalchemy.exc import IntegrityError

metadata = MetaData()
progress = Table(
    "perf_rollup_backfill", metadata,
    Column("source", String(64), primary_key=True),
    Column("low_id", BigInteger, nullable=False), Column("high_id", BigInteger, nullable=False),
    Column("done_id", BigInteger, nullable=False), Column("rows_done", BigInteger, nullable=False),
    Column("started_at", Double, nullable=False), Column("finished_at", Double),
    Column("owner", String(128)), Column("lease_until", Double, nullable=False, default=0.0),
    Column("layout", String(512), nullable=False, default=""),  # the tier tables, comma-separated
)


def layout_of(source) -> str:
    return ",".join(tier.table.name for tier in source.tiers)


def filling(source, layout: str) -> list:
    """The tiers a backfill with this marker ``layout`` writes: the new ones only, or all."""
    _all, _, new = layout.partition(";")
    names = set(new.split(",")) if new else None
    return [tier for tier in source.tiers if names is None or tier.table.name in names]


def start_marker(engine, source) -> None:
    """Record where the writers' rollups begin (once per store and source); on a release
    that changed the tiers, fill the new ones or rebuild them all (see above)."""
    metadata.create_all(engine)
    raw_id, layout = source.raw.c.id, layout_of(source)
    mine = progress.c.source == source.name
    try:
        with engine.begin() as conn:
            if (mark := conn.execute(select(progress).where(mine)).first()) is not None:
                before = mark.layout.partition(";")[0]
                if before == layout:
                    return
                kept = set(before.split(",")) if before else set()
                added = [t.table.name for t in source.tiers if t.table.name not in kept]
                if mark.done_id >= mark.high_id and kept <= {t.table.name for t in source.tiers}:
                    _fill(conn, source, mark, layout, added)
                    return
                for tier in source.tiers:
                    conn.execute(delete(tier.table))
                conn.execute(delete(progress).where(mine))
            high = conn.execute(select(func.max(raw_id))).scalar() or 0  # one index probe each
            low = conn.execute(select(func.min(raw_id))).scalar() or 0
            now = time.time()
            conn.execute(insert(progress).values(
                source=source.name, low_id=low, high_id=high, done_id=max(0, low - 1) if high else 0,
                rows_done=0, started_at=now, finished_at=None if high else now, layout=layout))
    except IntegrityError:  # another worker recorded it first: its marker holds
        pass


def _fill(conn, source, mark, layout: str, added: list[str]) -> None:
    """A complete backfill's marker restarted for the ``added`` tiers alone."""
    for name in added:  # rows a worker of this release wrote meanwhile are counted again below
        conn.execute(delete(source.metadata.tables[name]))
    high = conn.execute(select(func.max(source.raw.c.id))).scalar() or 0 if added else mark.high_id
    low = conn.execute(select(func.min(source.raw.c.id))).scalar() or 0 if added else mark.low_id
    now = time.time()
    conn.execute(update(progress).where(progress.c.source == source.name, progress.c.layout == mark.layout)
                 .values(layout=f"{layout};{','.join(added)}" if added else layout, low_id=low,
                         high_id=high, done_id=max(0, low - 1) if high and added else high,
                         rows_done=0 if added else mark.rows_done, started_at=now if added else mark.started_at,
                         finished_at=None if high and added else now, owner=None, lease_until=0.0))


def pending(engine, source) -> bool:
    """Older rows of the store are not all rolled up yet (``engine``: also a Connection)."""
    query = select(progress).where(progress.c.source == source.name)
    if hasattr(engine, "in_transaction"):  # a Connection
        mark = engine.execute(query).first()
    else:
        with engine.connect() as conn:
            mark = conn.execute(query).first()
    return mark is not None and mark.done_id < mark.high_id
