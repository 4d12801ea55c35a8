"""The dashboard store's rollups: FMD's requests per endpoint and version, by hour and by day.

Tables (stores/rollups.py): ``fmd_rollup_hour`` (endpoint_id, version_requested),
``fmd_rollup_day`` (… and group_by, FMD's "user": the load-test run here) and
``fmd_rollup_month`` (endpoint_id alone, 30-day periods: every test run has its own
version, so the per-endpoint totals of the overview would otherwise read as many rows
as the day tier), each row a latency bucket and status class of one period;
``fmd_rollup_summary`` (endpoint_id, version_requested, group_by: count, first and
last request), for the lists of versions and users; for the endpoint page,
``fmd_rollup_ip`` (endpoint_id, version_requested, ip; 30-day periods: the IP tab and
its version × IP medians, read only there) and ``fmd_rollup_status`` (endpoint_id,
status_code: count, first and last request; the status-code pie). What reaches them:
- level-1 requests: the batch writer's ``on_batch`` (writer.py), in the insert's
  transaction;
- the requests FMD still writes itself -- those whose view raised (its
  PerformanceProfiler) and level-2/3 profiled ones (its StacktraceProfiler) -- an
  ``after_insert`` listener on its ``Request`` mapper, in the same flush; the
  writer's inserts are Core statements, which never fire it, so nothing counts twice;
- older rows of a store written before rollups: the backfill (stores/backfill.py),
  started with the first request stored (by any of the above). Reads PERF_ROLLUP_BACKFILL_CHUNK and
  PERF_ROLLUP_BACKFILL_PAUSE_S.
"""
from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, event

from flask_perf.stores.backfill import Backfill, pending
from flask_perf.stores.rollups import (DAY, HOUR, MONTH, Source, Tier, histogram_table, key,
                                       summary_table)

metadata = MetaData()
# FMD's Request and Endpoint tables as far as the rollups read them. Not FMD's own Table: importing
# flask_monitoringdashboard.database creates FMD's engine (and a SQLite file) from its
# config of that moment, so it is imported only once FMD is configured (``install``).
REQUEST = Table("Request", MetaData(), Column("id", Integer, primary_key=True),
                Column("endpoint_id", Integer), Column("duration", Float), Column("time_requested", DateTime),
                Column("version_requested", String(100)), Column("group_by", String(100)),
                Column("ip", String(100)), Column("status_code", Integer))
ENDPOINT = Table("Endpoint", REQUEST.metadata, Column("id", Integer, primary_key=True),
                 Column("name", String(250)), Column("monitor_level", Integer),
                 Column("last_requested", DateTime))


def _dims(*names):
    types = {"endpoint_id": Integer, "version_requested": String(100), "group_by": String(100),
             "ip": String(100), "status_code": Integer}
    return [key(name, types[name]) for name in names]


HOURLY = histogram_table(metadata, "fmd_rollup_hour", _dims("endpoint_id", "version_requested"))
DAILY = histogram_table(metadata, "fmd_rollup_day", _dims("endpoint_id", "version_requested", "group_by"))
MONTHLY = histogram_table(metadata, "fmd_rollup_month", _dims("endpoint_id"))  # 30-day periods
SUMMARY = summary_table(metadata, "fmd_rollup_summary", _dims("endpoint_id", "version_requested", "group_by"))
BY_IP = histogram_table(metadata, "fmd_rollup_ip", _dims("endpoint_id", "version_requested", "ip"))  # 30 days
STATUSES = summary_table(metadata, "fmd_rollup_status", _dims("endpoint_id", "status_code"))
SOURCE = Source("dashboard", REQUEST, time="time_requested", duration="duration",
                status="status_code", ms_per_unit=1.0, metadata=metadata,
                tiers=(Tier(HOURLY, HOUR), Tier(DAILY, DAY), Tier(MONTHLY, MONTH), Tier(SUMMARY, None),
                       Tier(BY_IP, MONTH, dedicated=True), Tier(STATUSES, None)))
FIELDS = ("endpoint_id", "version_requested", "group_by", "ip", "time_requested", "duration", "status_code")


def _rolled_up_insert(_mapper, connection, target) -> None:
    """A Request FMD inserted through its session: rolled up in the same transaction."""
    SOURCE(connection, [{name: getattr(target, name, None) for name in FIELDS}])


def install(app, url: str, writer) -> None:
    """Create the tables (and the backfill marker) in the store at ``url``; listen to FMD's
    own inserts (once per process); roll up the store's history when the first request is
    stored, by any writer (two attribute checks per batch). The index of profiled requests
    (profiled.py) is set up alongside. FMD's state is per process: the last app wins."""
    from flask_monitoringdashboard.database import Request

    SOURCE.create_schema(writer.engine)
    if not event.contains(Request, "after_insert", _rolled_up_insert):
        event.listen(Request, "after_insert", _rolled_up_insert)
    backfill = Backfill(url, SOURCE, int(app.config["PERF_ROLLUP_BACKFILL_CHUNK"]),
                        float(app.config["PERF_ROLLUP_BACKFILL_PAUSE_S"]))
    backfill.done = not pending(writer.engine, SOURCE)  # the usual case: no thread at all
    SOURCE.on_write[:] = [backfill.ensure_started]  # whichever writes first: level-3 stacks bypass the writer
    app.extensions["flask_perf"].backfills["dashboard"] = backfill
    from flask_perf.dashboard import profiled  # it reads REQUEST from here

    SOURCE.on_write.append(profiled.install(app, url, writer, backfill.chunk, backfill.pause_s))
