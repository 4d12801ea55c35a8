"""The registry of stores: what ``flask perf status`` counts and what retention prunes.

Each ``Store`` names its tool, the config key of its URL (else a SQLite file under
PERF_STORE_DIR), the tables to count, the (table, time column, child tables) that
retention prunes (the time column a datetime or epoch seconds, indexed: pruning reads
it in order), and the extra steps retention runs on it (``maintenance``, see
retention.py). Rollup tables are found by name and kept longer (retention.py). An app
adds its own stores with ``PerfState.add_store``.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Store:
    tool: str
    config_key: str
    filename: str
    tables: tuple[str, ...]
    enabled_key: str | None = None  # the config key that attaches the tool (None: always on)
    prune: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    maintenance: tuple[str, ...] = ()  # "stack_sample", "orphan_endpoints"

    def enabled(self, app) -> bool:
        return self.enabled_key is None or bool(app.config.get(self.enabled_key))


BUILTIN = (
    Store("Flask-MonitoringDashboard", "PERF_DASHBOARD_DATABASE_URL", "dashboard.db",
          ("Request", "Endpoint", "Outlier", "StackLine"), "PERF_DASHBOARD_ENABLED",
          (("Request", "time_requested", ("StackLine", "Outlier", "ExceptionOccurrence")),),
          ("stack_sample", "orphan_endpoints")),
    Store("flask-profiler", "PERF_PROFILER_DATABASE_URL", "profiler.db", ("measurements",),
          "PERF_PROFILER_ENABLED", (("measurements", "started_at", ()),)),
    Store("slow-query log", "PERF_SLOW_QUERY_DATABASE_URL", "slow_queries.db",
          ("slow_query", "query_finding"), "PERF_SLOW_QUERY_ENABLED",
          (("slow_query", "recorded_at", ()), ("query_finding", "recorded_at", ()))),
)


def stores(app) -> tuple[Store, ...]:
    """The built-in stores and those the app registered."""
    state = app.extensions.get("flask_perf")
    return BUILTIN + tuple(state.extra_stores if state else ())
