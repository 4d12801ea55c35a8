"""The profiled requests of the dashboard store, kept by the database itself.

A request is profiled when it has ``StackLine`` rows (level 3). Finding an endpoint's
profiled requests meant probing ``StackLine`` for every request of the endpoint:
FMD's count of them took 0.4 s at 1M requests, its grouped profiler 0.9 s, and the
report's call-stack sample scanned all of ``StackLine``. ``fmd_profiled`` holds one
row per profiled request (request id, endpoint id, version), indexed by endpoint and
by (endpoint, version). Two triggers keep it: a request's first stack line
(position 0) inserted adds its row, deleted removes it -- whoever writes or prunes
(FMD's code, ours, retention, an older release). A store that held stacks before the
triggers gets its rows from the backfill (``ProfiledBackfill``, stores/backfill.py),
by ranges of request ids. ``ready`` is true once that is done; until then, and on a
database where the triggers could not be created (MariaDB without the TRIGGER
privilege, PostgreSQL), readers fall back to the raw tables.
"""
import logging
from dataclasses import dataclass

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, insert, inspect, select

from flask_perf.dashboard.rollups import REQUEST
from flask_perf.stores.backfill import Backfill, pending, progress, start_marker
from flask_perf.stores.rollups import Tier

logger = logging.getLogger("flask_perf")
metadata = MetaData()
PROFILED = Table("fmd_profiled", metadata, Column("request_id", Integer, primary_key=True, autoincrement=False),
                 Column("endpoint_id", Integer, nullable=False), Column("version_requested", String(100)),
                 Index("ix_fmd_profiled_endpoint", "endpoint_id"),  # newest first: the id follows
                 Index("ix_fmd_profiled_version", "endpoint_id", "version_requested"))
LINE = Table("StackLine", MetaData(), Column("request_id", Integer, primary_key=True),
             Column("position", Integer, primary_key=True), Column("indent", Integer),
             Column("code_id", Integer), Column("duration", Float))
_COLUMNS = "request_id, endpoint_id, version_requested"
TRIGGERS = {
    "sqlite": (
        f'CREATE TRIGGER IF NOT EXISTS perf_profiled_insert AFTER INSERT ON "StackLine" WHEN NEW.position = 0 '
        f'BEGIN INSERT OR IGNORE INTO fmd_profiled ({_COLUMNS}) SELECT id, endpoint_id, version_requested '
        f'FROM "Request" WHERE id = NEW.request_id; END',
        'CREATE TRIGGER IF NOT EXISTS perf_profiled_delete AFTER DELETE ON "StackLine" WHEN OLD.position = 0 '
        'BEGIN DELETE FROM fmd_profiled WHERE request_id = OLD.request_id; END'),
    "mysql": (
        f"CREATE TRIGGER IF NOT EXISTS perf_profiled_insert AFTER INSERT ON `StackLine` FOR EACH ROW "
        f"INSERT IGNORE INTO fmd_profiled ({_COLUMNS}) SELECT id, endpoint_id, version_requested "
        f"FROM `Request` WHERE id = NEW.request_id AND NEW.position = 0",
        "CREATE TRIGGER IF NOT EXISTS perf_profiled_delete AFTER DELETE ON `StackLine` FOR EACH ROW "
        "DELETE FROM fmd_profiled WHERE request_id = OLD.request_id AND OLD.position = 0"),
}
TRIGGERS["mariadb"] = TRIGGERS["mysql"]


@dataclass(eq=False)
class _Derived:
    """What the backfill marker needs of a source (stores/backfill_marker.py)."""
    name: str
    raw: Table
    tiers: tuple
    metadata: MetaData


SOURCE = _Derived("fmd_profiled", REQUEST, (Tier(PROFILED, None),), metadata)


def fill_statement(dialect: str, after: int, last: int):
    """Rows for the profiled requests with ids in (after, last], each once."""
    request = REQUEST.c
    rows = (select(request.id, request.endpoint_id, request.version_requested)
            .join_from(LINE, REQUEST, request.id == LINE.c.request_id)
            .where(LINE.c.request_id > after, LINE.c.request_id <= last, LINE.c.position == 0))
    stmt = insert(PROFILED).from_select(["request_id", "endpoint_id", "version_requested"], rows)
    return stmt.prefix_with("OR IGNORE") if dialect == "sqlite" else stmt.prefix_with("IGNORE")


class ProfiledBackfill(Backfill):
    """The rows of requests profiled before the triggers existed, a range of ids per step."""

    def read_chunk(self, conn, mark):
        last = min(mark.done_id + self.chunk, mark.high_id)
        return (mark.done_id, last), last, last - mark.done_id

    def apply(self, conn, work, mark) -> None:
        conn.execute(fill_statement(conn.dialect.name, *work))


def install(app, url: str, writer, chunk: int, pause_s: float):
    """The table, its triggers and, for a store with older stacks, the backfill; returns
    what starts the backfill (with the first request stored). A store that cannot have
    the triggers keeps no marker, so ``ready`` stays false."""
    engine = writer.engine
    if not create(engine):
        return _nothing
    backfill = ProfiledBackfill(url, SOURCE, min(chunk, 20_000), pause_s)
    backfill.done = not pending(engine, SOURCE)
    app.extensions["flask_perf"].backfills["fmd_profiled"] = backfill
    return backfill.ensure_started


def _nothing() -> None:
    pass


def create(engine) -> bool:
    """The table, its triggers and its backfill marker; False where triggers cannot be had."""
    statements = TRIGGERS.get(engine.dialect.name)
    if statements is None:
        return False
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    except Exception as exc:
        logger.warning("flask_perf: the profiled-requests triggers could not be created (%s); the "
                       "profiler pages read the raw stack lines", exc)
        return False
    start_marker(engine, SOURCE)
    return True


def ready(conn) -> bool:
    """``fmd_profiled`` lists every profiled request of the store (``conn``: a Connection)."""
    mark = conn.execute(select(progress.c.done_id, progress.c.high_id)
                        .where(progress.c.source == SOURCE.name)).first() if _has_progress(conn) else None
    return mark is not None and mark.done_id >= mark.high_id


def _has_progress(conn) -> bool:
    return progress.name in inspect(conn).get_table_names()
