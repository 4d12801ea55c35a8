"""Which indexes each store keeps (indexes.py creates them) and which it no longer needs.

Every index on ``Request`` costs the dashboard writer on each stored request
(benchmarks/request_indexes.py, 200k rows: 2 µs of CPU per row without any, 67 µs with
the eight an earlier release kept, most of it FMD's (endpoint_id, duration) and ours
led by endpoint and duration: a random place in a big index for every insert; 9 µs
with these four). Since the pages read the rollups (dashboard/rollups.py) and the
profiled requests have their own table (dashboard/profiled.py), four serve what still
reads raw rows; tests/test_store_indexes.py EXPLAINs every such query.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class IndexSpec:
    name: str
    table: str
    columns: tuple[str, ...]


DASHBOARD = (  # Flask-MonitoringDashboard's tables (FMD's time index first, for stores made before 5.1)
    IndexSpec("ix_request_time_endpoint", "Request",
              ("time_requested", "endpoint_id", "status_code", "duration")),  # the raw edges of a range
    # One endpoint's requests newest first (FMD's profiler and outlier tables); retention's orphans.
    # FMD's name on other columns: FMD 5.1 declares (endpoint_id, duration), the costliest index for
    # the writers and needed by nothing since, and rebuilds any index of its own it misses by name,
    # synchronously, whenever it is imported. So the name stays, on what is needed.
    IndexSpec("ix_request_endpoint_duration", "Request", ("endpoint_id", "time_requested")),
    IndexSpec("ix_perf_request_endpoint_status", "Request", ("endpoint_id", "status_code")),  # its errors
    # a test run's requests (the pytest plugin's summary), a version's stacks (retention)
    IndexSpec("ix_perf_request_version", "Request", ("version_requested", "endpoint_id", "time_requested")),
    IndexSpec("ix_perf_outlier_request_cpu", "Outlier", ("request_id", "cpu_percent")),  # the CPU graph
    IndexSpec("ix_perf_exception_request", "ExceptionOccurrence", ("request_id",)),
)  # StackLine's primary key (request_id, position) serves every lookup by request
# Indexes an older release created that no query needs since the pages read the rollups: each cost
# the dashboard writer CPU for every stored request (benchmarks/request_indexes.py). Dropped where found.
RETIRED = (
    IndexSpec("ix_perf_outlier_request", "Outlier", ("request_id",)),  # the one above begins with it
    IndexSpec("ix_perf_request_endpoint_time", "Request", ("endpoint_id", "time_requested")),  # FMD's name now
    IndexSpec("ix_perf_request_endpoint_version", "Request",
              ("endpoint_id", "version_requested", "time_requested", "duration")),
    IndexSpec("ix_perf_request_endpoint_group", "Request", ("endpoint_id", "group_by", "version_requested",
                                                             "duration")),
    IndexSpec("ix_perf_request_endpoint_ip", "Request", ("endpoint_id", "ip", "version_requested", "duration")),
)
PROFILER = (
    IndexSpec("ix_measurements_started_at", "measurements", ("started_at",)),
    IndexSpec("ix_perf_measurements_ended", "measurements", ("ended_at",)),  # newest first, one page
    # counts over a time range (timeseries, method distribution) from the index alone
    IndexSpec("ix_perf_measurements_time", "measurements", ("started_at", "ended_at", "method")),
    IndexSpec("ix_perf_measurements_name_started", "measurements", ("name", "started_at")),
)
SLOW_QUERIES = (
    IndexSpec("ix_perf_slow_query_dialect_time", "slow_query", ("dialect", "recorded_at")),
    IndexSpec("ix_perf_slow_query_version", "slow_query", ("app_version",)),
)
