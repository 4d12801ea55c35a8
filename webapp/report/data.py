"""What the report shows, read from the monitoring stores and result files."""
import math
import pstats
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select, table, column

from webapp.loadtest.results import load_runs
from webapp.monitoring.stores import store_engine, store_url
from webapp.monitoring.wsgi_profiler import list_profiles, profile_dir

PERCENTILES = (50, 95, 99)


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class EndpointStats:
    endpoint: str
    version: str
    durations: list[float] = field(default_factory=list)  # ms, sorted
    errors: int = 0
    last_seen: str = ""

    @property
    def count(self) -> int:
        return len(self.durations)

    def p(self, q: float) -> float:
        return percentile(self.durations, q)

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0


def dashboard_stats(app) -> dict[str, dict[str, EndpointStats]]:
    """version → endpoint → stats, from the dashboard's Request table."""
    engine = store_engine(store_url(app, "DASHBOARD_DATABASE_URL", "dashboard.db"))
    request, endpoint = table("Request", column("endpoint_id"), column("duration"),
                              column("status_code"), column("version_requested"),
                              column("time_requested")), table("Endpoint", column("id"), column("name"))
    stmt = select(endpoint.c.name, request.c.version_requested, request.c.duration,
                  request.c.status_code, request.c.time_requested).join(
        endpoint, endpoint.c.id == request.c.endpoint_id)
    result: dict[str, dict[str, EndpointStats]] = defaultdict(dict)
    try:
        with engine.connect() as conn:
            for name, version, duration, status, when in conn.execute(stmt):
                stats = result[version or "?"].setdefault(name, EndpointStats(name, version or "?"))
                stats.durations.append(float(duration))
                stats.errors += int(status or 0) >= 500
                stats.last_seen = max(stats.last_seen, str(when))
    except Exception:  # no dashboard store yet
        return {}
    finally:
        engine.dispose()
    for per_endpoint in result.values():
        for stats in per_endpoint.values():
            stats.durations.sort()
    return dict(result)


def versions_by_recency(stats: dict[str, dict[str, EndpointStats]]) -> list[str]:
    return sorted(stats, key=lambda v: max(s.last_seen for s in stats[v].values()), reverse=True)


def query_findings(app, limit: int = 20) -> list[dict]:
    engine = store_engine(store_url(app, "SLOW_QUERY_DATABASE_URL", "slow_queries.db"))
    finding = table("query_finding", column("endpoint"), column("kind"), column("shape"),
                    column("count"))
    stmt = (select(finding.c.endpoint, finding.c.kind, finding.c.shape,
                   func.count().label("requests"), func.max(finding.c.count).label("max_repeat"))
            .group_by(finding.c.endpoint, finding.c.kind, finding.c.shape)
            .order_by(func.count().desc()).limit(limit))
    try:
        with engine.connect() as conn:
            return [dict(row) for row in conn.execute(stmt).mappings()]
    except Exception:
        return []
    finally:
        engine.dispose()


def top_functions(app, files: int = 20, limit: int = 12) -> tuple[int, list[dict]]:
    """Own-time leaders over the newest ``files`` .prof files: (files read, rows)."""
    entries = list_profiles(profile_dir(app))[:files]
    if not entries:
        return 0, []
    stats = pstats.Stats(*[e.path for e in entries])
    rows = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():
        rows.append({"function": f"{name} ({filename.rsplit('/', 1)[-1]}:{line})", "calls": calls,
                     "own_ms": tottime * 1000, "cumulative_ms": cumtime * 1000})
    rows.sort(key=lambda r: r["own_ms"], reverse=True)
    return len(entries), rows[:limit]


def load_tests(app) -> list[dict]:
    return load_runs(app)
