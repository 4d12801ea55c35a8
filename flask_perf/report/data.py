"""What the report shows, read from the monitoring stores and result files.

Latencies per version and endpoint come from the dashboard store's rollups
(latency.py), not from every request; ``EndpointStats`` holds either sorted
durations (runs.py reads a few versions' raw rows) or a histogram.
"""
import math
import pstats
from collections import defaultdict
from dataclasses import dataclass, field, replace

from sqlalchemy import column, func, select, table
from werkzeug.exceptions import HTTPException

from flask_perf.loadtest.results import load_runs
from flask_perf.stores.engines import store_engine, store_url
from flask_perf.stores.histogram import Histogram
from flask_perf.wsgi_profiler import NAME, list_profiles, profile_dir
from flask_perf.report.classify import classify_profile
from flask_perf.report.stack_sample import stack_bottlenecks

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
    durations: list[float] = field(default_factory=list)  # ms, sorted (read from raw rows)
    errors: int = 0
    last_seen: str = ""
    histogram: Histogram | None = None  # instead of durations, read from the rollups

    @property
    def count(self) -> int:
        return self.histogram.count if self.histogram is not None else len(self.durations)

    def p(self, q: float) -> float:
        if self.histogram is not None:
            return self.histogram.nearest_rank(q)
        return percentile(self.durations, q)

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0


def dashboard_stats(app):
    """version → endpoint → stats, from the dashboard store's rollups (latency.py)."""
    from flask_perf.report.latency import dashboard_stats as rolled_up

    return rolled_up(app)


def versions_by_recency(stats) -> list[str]:
    if hasattr(stats, "newest_first"):  # latency.RolledUpStats: without reading every version
        return stats.newest_first()
    return sorted(stats, key=lambda v: max(s.last_seen for s in stats[v].values()), reverse=True)


def query_findings(app, limit: int = 20) -> list[dict]:
    engine = store_engine(store_url(app, "PERF_SLOW_QUERY_DATABASE_URL", "slow_queries.db"))
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


def bottlenecks(app, per_endpoint: int = 20, shown: int = 12) -> list[dict]:
    """DB/I-O/CPU shares per endpoint, from the newest ``.prof`` files and level-3 stacks.

    Rows ``{"endpoint", "source", "shares"}``, the endpoints with the most profiled
    time first; an endpoint profiled both ways gets one row per source.
    """
    rows = _profile_bottlenecks(app, per_endpoint) + stack_bottlenecks(app, per_endpoint)
    rows.sort(key=lambda r: (-r["shares"].total / r["shares"].profiles, r["endpoint"], r["source"]))
    return rows[:shown]


def _profile_endpoint(adapter, filename: str) -> str | None:
    """The endpoint a ``.prof`` file name's method and path route to (None if none)."""
    match = NAME.match(filename)
    if not match:
        return None
    path = "/" if match["path"] == "root" else "/" + match["path"].replace(".", "/")
    try:
        return adapter.match(path, method=match["method"])[0]
    except HTTPException:  # 404s, redirects
        return None


def _profile_bottlenecks(app, per_endpoint: int) -> list[dict]:
    adapter = app.url_map.bind("localhost")
    files: dict[str, list[str]] = defaultdict(list)
    for entry in list_profiles(profile_dir(app)):
        endpoint = _profile_endpoint(adapter, entry.name)
        if endpoint and len(files[endpoint]) < per_endpoint:
            files[endpoint].append(entry.path)
    rows = []
    for endpoint, paths in files.items():
        shares = replace(classify_profile(pstats.Stats(*paths)), profiles=len(paths))
        rows.append({"endpoint": endpoint, "source": f"{len(paths)} .prof files", "shares": shares})
    return rows
