"""flask-profiler storage: thread- and process-safe, parameterised, complete.

Replaces flask-profiler's own storages: ``sqlite`` shares one cursor across threads
(errors, then segfaults, under a threaded server) and builds SQL from query strings
(``name=x" OR 1=1 OR "`` matched every row); ``sqlalchemy`` lacks ``get`` and
crashes on timeseries (both views answered 500) and never closes its sessions.

Here every query is SQLAlchemy Core with bound parameters, sort fields come from
a whitelist, bad criteria raise ``BadCriteria`` (answered as 400), and inserts go
through a BatchWriter off the request path.
"""
import json
import time
from datetime import datetime

from flask_profiler.storage.base import BaseStorage
from sqlalchemy import (Column, Float, Index, Integer, MetaData, String, Table, Text, delete,
                        func, select)

from flask_perf.stores.engines import store_engine
from flask_perf.stores.writer import BatchWriter

metadata = MetaData()
measurements = Table(
    "measurements", metadata,
    Column("id", Integer, primary_key=True),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float, nullable=False),
    Column("elapsed", Float, nullable=False),
    Column("method", String(16), nullable=False),
    Column("name", String(512), nullable=False),
    Column("args", Text), Column("kwargs", Text), Column("context", Text),
    Column("app_version", String(64)),
    Index("ix_measurements_started_at", "started_at"),
)
ROW_SORT = {"startedAt": measurements.c.started_at, "endedAt": measurements.c.ended_at,
            "elapsed": measurements.c.elapsed, "method": measurements.c.method,
            "name": measurements.c.name, "id": measurements.c.id}
COUNT = func.count(measurements.c.id).label("count")
SUMMARY_COLUMNS = [measurements.c.method, measurements.c.name, COUNT,
                   func.min(measurements.c.elapsed).label("minElapsed"),
                   func.max(measurements.c.elapsed).label("maxElapsed"),
                   func.avg(measurements.c.elapsed).label("avgElapsed")]
SUMMARY_SORT = {"count": COUNT, "method": measurements.c.method, "name": measurements.c.name,
                **{c.name: c for c in SUMMARY_COLUMNS[3:]}}


MAX_INT = 2**63 - 1  # SQLite's and MariaDB's BIGINT


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
    column = allowed[field]
    return column.asc() if direction == "asc" else column.desc()


class ProfilerStore(BaseStorage):
    """A flask-profiler storage engine; ``conf`` is flask-profiler's ``storage`` dict."""

    def __init__(self, conf: dict):
        super().__init__()
        self.engine = store_engine(conf["db_url"])
        metadata.create_all(self.engine)
        self.version = conf.get("app_version")
        self.writer = BatchWriter(self.engine, measurements, "flask_profiler",
                                  health_dir=conf.get("health_dir"))

    def insert(self, measurement: dict) -> None:
        self.writer.put({
            "started_at": measurement["startedAt"], "ended_at": measurement["endedAt"],
            "elapsed": measurement["elapsed"], "method": measurement["method"],
            "name": measurement["name"][:512], "args": json.dumps(list(measurement["args"])),
            "kwargs": json.dumps(measurement["kwargs"], default=str),
            "context": json.dumps(measurement.get("context", {}), default=str),
            "app_version": self.version})

    def _where(self, criteria: dict, stmt):
        now = time.time()
        stmt = stmt.where(measurements.c.started_at >= _number(criteria, "startedAt", now - 7 * 86400),
                          measurements.c.ended_at <= _number(criteria, "endedAt", now + 0.5))
        if (elapsed := _number(criteria, "elapsed", None)) is not None:
            stmt = stmt.where(measurements.c.elapsed >= elapsed)
        for key in ("method", "name"):
            if criteria.get(key):
                stmt = stmt.where(measurements.c[key] == criteria[key])
        return stmt

    def _page(self, criteria: dict, stmt, default_limit: int):
        limit = _number(criteria, "limit", default_limit, int)
        skip = _number(criteria, "skip", 0, int)
        if not 0 <= skip <= MAX_INT:
            raise BadCriteria("skip is out of range")
        stmt = stmt.offset(skip)
        return stmt.limit(min(limit, 10_000)) if limit >= 0 else stmt

    def filter(self, criteria: dict | None = None):
        criteria = criteria or {}
        stmt = self._where(criteria, select(measurements))
        stmt = self._page(criteria, stmt.order_by(_sort(criteria, "endedAt,desc", ROW_SORT)), 100)
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
        stmt = self._where(criteria, select(*SUMMARY_COLUMNS)).group_by(
            measurements.c.method, measurements.c.name)
        stmt = self._page(criteria, stmt.order_by(_sort(criteria, "count,desc", SUMMARY_SORT)), -1)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(stmt).mappings()]

    def getTimeseries(self, criteria: dict | None = None):
        criteria = criteria or {}
        fmt = "%Y-%m-%d" if criteria.get("interval") == "daily" else "%Y-%m-%d %H"
        stmt = self._where(criteria, select(measurements.c.started_at))
        series: dict[str, int] = {}
        with self.engine.connect() as conn:
            for (started,) in conn.execute(stmt):
                key = datetime.fromtimestamp(started).strftime(fmt)
                series[key] = series.get(key, 0) + 1
        return series

    def getMethodDistribution(self, criteria: dict | None = None):
        stmt = self._where(criteria or {}, select(measurements.c.method, COUNT)).group_by(
            measurements.c.method)
        with self.engine.connect() as conn:
            return {method: count for method, count in conn.execute(stmt)}

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(measurements)).scalar_one()

    def truncate(self) -> bool:
        self.writer.flush()
        with self.engine.begin() as conn:
            conn.execute(delete(measurements))
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
