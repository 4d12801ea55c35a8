"""flask-profiler storage: thread- and process-safe, parameterised, complete.

Replaces flask-profiler's own storages: ``sqlite`` shares one cursor across threads
(errors, then segfaults, under a threaded server) and builds SQL from query strings
(``name=x" OR 1=1 OR "`` matched every row); ``sqlalchemy`` lacks ``get`` and
crashes on timeseries (both views answered 500) and never closes its sessions.

Here every query is SQLAlchemy Core with bound parameters, sort fields come from
a whitelist, bad criteria raise ``BadCriteria`` (answered as 400), and inserts go
through a BatchWriter off the request path. One answer holds at most ``max_rows``
rows (PERF_PROFILER_MAX_ROWS): a negative or larger ``limit`` gets that many, so
``limit=-1`` (what the page's grouped table sends) no longer returns every row.
Each batch is rolled up as it is inserted, and the page's summary, timeseries and
method distribution are read from those rollups (rollups.py), not from every row.
"""
import json
import math
import time

from flask_profiler.storage.base import BaseStorage
from sqlalchemy import (Column, Double, Index, Integer, MetaData, String, Table, Text, delete,
                        func, select)

from flask_perf.profiler import rollups
from flask_perf.stores import indexes
from flask_perf.stores.backfill import Backfill, pending
from flask_perf.stores.column_types import widen_floats
from flask_perf.stores.engines import store_engine
from flask_perf.stores.writer import BatchWriter

metadata = MetaData()
measurements = Table(
    "measurements", metadata,
    Column("id", Integer, primary_key=True),
    # DOUBLE: MariaDB's FLOAT (4 bytes) rounded these epoch seconds to 2 minutes (an older
    # store's FLOAT columns are widened at start: stores/column_types.py)
    Column("started_at", Double, nullable=False),
    Column("ended_at", Double, nullable=False),
    Column("elapsed", Double, nullable=False),
    Column("method", String(16), nullable=False),
    Column("name", String(512), nullable=False),
    Column("args", Text), Column("kwargs", Text), Column("context", Text),
    Column("app_version", String(64)),
    Index("ix_measurements_started_at", "started_at"),
)
ROW_SORT = {"startedAt": measurements.c.started_at, "endedAt": measurements.c.ended_at,
            "elapsed": measurements.c.elapsed, "method": measurements.c.method,
            "name": measurements.c.name, "id": measurements.c.id}
SUMMARY_SORT = ("count", "method", "name", "minElapsed", "maxElapsed", "avgElapsed")
ROLLUPS = rollups.source(measurements)
MAX_INT = 2**63 - 1  # SQLite's and MariaDB's BIGINT
MAX_TIME = 1e10  # seconds since the epoch: year 2286
DEFAULT_MAX_ROWS = 1000


class BadCriteria(ValueError):
    """A query parameter of the profiler's API is malformed (answered 400)."""


class MeasurementNotFound(LookupError):
    """No measurement has that id (answered 404)."""


def _number(criteria, key, default, cast=float):
    raw = criteria.get(key)
    if raw in (None, ""):
        return default
    try:
        return cast(raw)
    except (TypeError, ValueError):
        raise BadCriteria(f"{key} must be a number") from None


def _sort(criteria, default, allowed):
    field, _, direction = str(criteria.get("sort") or default).partition(",")
    if field not in allowed or direction not in ("asc", "desc", ""):
        raise BadCriteria(f"sort must be one of {sorted(allowed)} followed by ,asc or ,desc")
    return field, direction != "asc"


def _order(criteria, default, allowed):
    field, descending = _sort(criteria, default, allowed)
    return allowed[field].desc() if descending else allowed[field].asc()


class ProfilerStore(BaseStorage):
    """A flask-profiler storage engine; ``conf`` is flask-profiler's ``storage`` dict."""

    def __init__(self, conf: dict):
        super().__init__()
        self.engine = store_engine(conf["db_url"])
        metadata.create_all(self.engine)
        widen_floats(self.engine, "measurements", ("started_at", "ended_at", "elapsed"))  # older MariaDB stores
        indexes.ensure_indexes(self.engine, indexes.PROFILER)
        self.version = conf.get("app_version")
        self.max_rows = max(1, int(conf.get("max_rows") or DEFAULT_MAX_ROWS))
        self.writer = BatchWriter(self.engine, measurements, "flask_profiler",
                                  health_dir=conf.get("health_dir"), on_batch=ROLLUPS, prepare=self._rows)
        ROLLUPS.create_schema(self.engine)
        self.backfill = Backfill(conf["db_url"], ROLLUPS, int(conf.get("backfill_chunk") or 50_000),
                                 float(conf.get("backfill_pause_s", 0.05)))
        self.backfill.done = not pending(self.engine, ROLLUPS)  # started by the first request

    def insert(self, measurement: dict) -> None:
        self.writer.put(measurement)

    def _rows(self, item) -> list[dict]:
        """In the writer thread: the row of a measurement, or of a request captured by
        capture.py's wrapper (its record is built here, off the request thread)."""
        measurement = item if isinstance(item, dict) else item.measurement()
        return [{
            "started_at": measurement["startedAt"], "ended_at": measurement["endedAt"],
            "elapsed": measurement["elapsed"], "method": measurement["method"],
            "name": measurement["name"][:512], "args": json.dumps(list(measurement["args"])),
            "kwargs": json.dumps(measurement["kwargs"], default=str),
            "context": measurement.get("context_json") or json.dumps(measurement.get("context", {}), default=str),
            "app_version": self.version}]

    @staticmethod
    def _range(criteria: dict):
        """(startedAt, endedAt, elapsed or None, {method/name: value}) of the criteria; times
        clamped to [0, MAX_TIME], a NaN or an infinite ``elapsed`` is a bad criterion.

        An ``endedAt`` in whole seconds covers that whole second: the page sends
        ``moment().unix()``, which would otherwise hide the requests of the current second."""
        now = time.time()
        start, end = _number(criteria, "startedAt", now - 7 * 86400), _number(criteria, "endedAt", now + 0.5)
        elapsed = _number(criteria, "elapsed", None)
        if math.isnan(start) or math.isnan(end) or not math.isfinite(elapsed or 0.0):
            raise BadCriteria("startedAt, endedAt and elapsed must be finite numbers")
        if math.isfinite(end) and end == math.floor(end) and criteria.get("endedAt") not in (None, ""):
            end += 0.999999
        return (min(max(start, 0.0), MAX_TIME), min(max(end, 0.0), MAX_TIME), elapsed,
                {k: criteria[k] for k in ("method", "name") if criteria.get(k)})

    def _where(self, criteria: dict, stmt):
        start, end, elapsed, filters = self._range(criteria)
        stmt = stmt.where(measurements.c.started_at >= start, measurements.c.ended_at <= end,
                          *(measurements.c[key] == value for key, value in filters.items()))
        return stmt if elapsed is None else stmt.where(measurements.c.elapsed >= elapsed)

    def _limits(self, criteria: dict, default_limit: int) -> tuple[int, int]:
        limit = _number(criteria, "limit", default_limit, int)
        skip = _number(criteria, "skip", 0, int)
        if not 0 <= skip <= MAX_INT:
            raise BadCriteria("skip is out of range")
        if limit < 0 or limit > self.max_rows:  # -1 meant "every row" upstream
            limit = self.max_rows
        return skip, limit

    def _page(self, criteria: dict, stmt, default_limit: int):
        skip, limit = self._limits(criteria, default_limit)
        return stmt.offset(skip).limit(limit)

    def filter(self, criteria: dict | None = None):
        criteria = criteria or {}
        stmt = self._where(criteria, select(measurements))
        stmt = self._page(criteria, stmt.order_by(_order(criteria, "endedAt,desc", ROW_SORT)), 100)
        with self.engine.connect() as conn:
            return [self._row(row) for row in conn.execute(stmt).mappings()]

    def get(self, measurement_id):
        try:
            ident = int(measurement_id)
        except (TypeError, ValueError):
            raise BadCriteria("measurement id must be an integer") from None
        if not 0 <= ident <= MAX_INT:
            raise MeasurementNotFound(f"no measurement {measurement_id}")
        with self.engine.connect() as conn:
            row = conn.execute(select(measurements).where(measurements.c.id == ident)).mappings().first()
        if row is None:
            raise MeasurementNotFound(f"no measurement {ident}")
        return self._row(row)

    def getSummary(self, criteria: dict | None = None):
        criteria = criteria or {}
        order, (skip, limit) = _sort(criteria, "count,desc", SUMMARY_SORT), self._limits(criteria, -1)
        with self.engine.connect() as conn:
            return rollups.summary(conn, measurements, *self._range(criteria), order, skip, limit)

    def getTimeseries(self, criteria: dict | None = None):
        criteria = criteria or {}
        with self.engine.connect() as conn:
            return rollups.timeseries(conn, measurements, *self._range(criteria),
                                      criteria.get("interval") == "daily")

    def getMethodDistribution(self, criteria: dict | None = None):
        with self.engine.connect() as conn:
            return rollups.method_distribution(conn, measurements, *self._range(criteria or {}))

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(measurements)).scalar_one()

    def truncate(self) -> bool:
        self.writer.flush()
        with self.engine.begin() as conn:
            conn.execute(delete(measurements))
            for table in rollups.metadata.sorted_tables:  # everything, history included
                conn.execute(delete(table))
        return True

    def delete(self, measurement_id) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(delete(measurements).where(
                measurements.c.id == int(measurement_id))).rowcount > 0

    @staticmethod
    def _row(row) -> dict:
        return {"id": row["id"], "startedAt": row["started_at"], "endedAt": row["ended_at"],
                "elapsed": row["elapsed"], "method": row["method"], "name": row["name"],
                "args": json.loads(row["args"] or "[]"), "kwargs": json.loads(row["kwargs"] or "{}"),
                "context": json.loads(row["context"] or "{}"), "app_version": row["app_version"]}
