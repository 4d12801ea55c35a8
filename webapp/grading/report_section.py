"""The demo's section of ``flask perf report`` and its store: "Background jobs": per job function and version, how long jobs
waited in the queue and ran, and how many attempts were retried or failed.

Reads the worker's job store (webapp/grading/job_runs.py), never Redis or a worker.
"""
from collections import defaultdict

from sqlalchemy import select

from flask_perf.report.data import percentile
from flask_perf.stores.engines import sqlite_file_missing, store_engine
from flask_perf.stores.registry import Store
from webapp.grading.job_runs import job_run, jobs_store_url

JOBS_STORE = Store("background jobs", "JOBS_DATABASE_URL", "jobs.db", ("job_run",), None,
                   (("job_run", "recorded_at", ()),))  # `flask worker` records every job it runs


def job_stats(app) -> list[dict]:
    """One row per (function, version), the most recently seen first."""
    url = jobs_store_url(app)
    if sqlite_file_missing(url):
        return []
    engine = store_engine(url)
    groups: dict[tuple, dict] = defaultdict(lambda: {"waits": [], "runs": [], "totals": [],
                                                     "finished": 0, "retried": 0, "failed": 0,
                                                     "last": 0.0})
    stmt = select(job_run.c.function, job_run.c.app_version, job_run.c.status,
                  job_run.c.queue_wait_ms, job_run.c.run_ms, job_run.c.recorded_at)
    try:
        with engine.connect() as conn:
            for function, version, status, wait, run, recorded_at in conn.execute(stmt):
                group = groups[(function, version)]
                group[status if status in ("finished", "retried", "failed") else "failed"] += 1
                if wait is not None and run is not None:
                    group["waits"].append(wait)
                    group["runs"].append(run)
                    group["totals"].append(wait + run)
                group["last"] = max(group["last"], recorded_at or 0.0)
    except Exception:  # no table yet
        return []
    finally:
        engine.dispose()
    rows = []
    for (function, version), group in groups.items():
        waits, runs, totals = (sorted(group[k]) for k in ("waits", "runs", "totals"))
        rows.append({"function": function.rsplit(".", 1)[-1], "version": version,
                     "attempts": group["finished"] + group["retried"] + group["failed"],
                     "finished": group["finished"], "retried": group["retried"],
                     "failed": group["failed"], "last": group["last"],
                     **{f"wait_p{q}": percentile(waits, q) for q in (50, 95)},
                     **{f"run_p{q}": percentile(runs, q) for q in (50, 95)},
                     **{f"total_p{q}": percentile(totals, q) for q in (50, 95)}})
    rows.sort(key=lambda r: r["last"], reverse=True)
    return rows


def job_lines(rows: list[dict], shown: int = 10) -> list[str]:
    out = ["== Background jobs (flask worker's job store; per attempt, ms)"]
    if not rows:
        return out + ["no jobs recorded yet (`flask --app wsgi worker` records them)"]
    out.append(f"{'function':<20} {'version':<28} {'attempts':>8} {'retried':>7} {'failed':>6} "
               f"{'wait p50':>9} {'wait p95':>9} {'run p50':>8} {'run p95':>8} {'total p95':>9}")
    for r in rows[:shown]:
        out.append(f"{r['function'][:20]:<20} {r['version'][:28]:<28} {r['attempts']:>8} "
                   f"{r['retried']:>7} {r['failed']:>6} {r['wait_p50']:>9.1f} {r['wait_p95']:>9.1f} "
                   f"{r['run_p50']:>8.1f} {r['run_p95']:>8.1f} {r['total_p95']:>9.1f}")
    return out


def report_section(app) -> list[str]:
    return job_lines(job_stats(app))


def register(state) -> None:
    """Tell flask_perf about the jobs store (status, retention) and the report section."""
    state.add_store(JOBS_STORE)
    state.add_report_section(report_section)
