"""Load-test results: the run's folder, its summary, its records in the monitoring stores."""
import json
import os
from dataclasses import asdict, dataclass, field

from sqlalchemy import text

from flask_perf.config import PROFILES
from flask_perf.loadtest import RUN_HEADER
from flask_perf.stores.engines import store_engine, store_url


@dataclass
class LoadTestResult:
    run_id: str
    started_at: str
    url: str
    profile: str | None
    app_version: str
    locustfile: str | None  # None: the default scenario (every parameterless GET route)
    scenario: str
    users: int
    duration_s: float
    rate: float | None
    workers: int
    locust: dict = field(default_factory=dict)
    recorded: dict = field(default_factory=dict)

    @property
    def completed(self) -> int:
        return self.locust.get("total", {}).get("requests", 0)

    @property
    def nothing_lost(self) -> bool:
        counts = [n for n in self.recorded.values() if n is not None]
        return bool(counts) and all(n == self.completed for n in counts)

    def save(self, directory: str) -> str:
        path = os.path.join(directory, "summary.json")
        with open(path, "w") as handle:
            json.dump({**asdict(self), "completed": self.completed,
                       "nothing_lost": self.nothing_lost}, handle, indent=2)
        return path


def results_root(app) -> str:
    return os.path.join(app.instance_path, "loadtests")


def load_runs(app) -> list[dict]:
    """Summaries of past runs, oldest first (runs without a summary are skipped)."""
    root = results_root(app)
    runs = []
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        path = os.path.join(root, name, "summary.json")
        if os.path.isfile(path):
            with open(path) as handle:
                runs.append(json.load(handle))
    return runs


def _count(url: str, sql: str, params: dict) -> int | None:
    engine = store_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar_one()
    except Exception:  # store or table missing: nothing recorded
        return None
    finally:
        engine.dispose()


def recorded_counts(app, run_id: str, profile: str) -> dict:
    """Requests of ``run_id`` in the dashboard and flask-profiler stores, for each of the
    two that ``profile`` switches on (a count of None: nothing recorded)."""
    counts, tools = {}, PROFILES[profile]
    if tools.get("PERF_DASHBOARD_ENABLED"):
        counts["dashboard"] = dashboard_count(
            store_url(app, "PERF_DASHBOARD_DATABASE_URL", "dashboard.db"), run_id)
    if tools.get("PERF_PROFILER_ENABLED"):
        counts["flask_profiler"] = profiler_count(
            store_url(app, "PERF_PROFILER_DATABASE_URL", "profiler.db"), run_id)
    return counts


def dashboard_count(url: str, run_id: str) -> int | None:
    """Requests of ``run_id`` in the dashboard store at ``url`` (grouped by the run header)."""
    return _count(url, "SELECT COUNT(*) FROM Request WHERE group_by = :run", {"run": run_id})


def profiler_count(url: str, run_id: str) -> int | None:
    """Requests of ``run_id`` in the flask-profiler store at ``url`` (the header in the context)."""
    return _count(url, "SELECT COUNT(*) FROM measurements WHERE context LIKE :pattern",
                  {"pattern": f'%"{RUN_HEADER}": "{run_id}"%'})
