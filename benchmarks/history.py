"""Months of monitoring history: how fast the pages, the commands and pruning stay.

    .venv/bin/python benchmarks/history.py --requests 100000 [--days 90] [--dir DIR]
    .venv/bin/python benchmarks/history.py --reuse DIR      # time a store grown before

1. Grows the demo's stores in DIR (default: <tmp>/flask-perf-history-N) to N requests over
   ``--days`` days with benchmarks/history_store.py (load tests at level 3, four test-suite
   runs a day, flask-profiler rows, slow queries), as an older release left them: no
   flask_perf indexes, no rollups. The school database is seeded with the ``bare`` profile
   (nothing touches the stores).
2. First start: ``gunicorn -w 2 wsgi:app`` on that store; seconds until ``/roster`` answers.
   It keeps running until its background work (indexes, rollup backfill) is done.
3. Every API call behind every /dashboard and /flask-profile page (benchmarks/history_pages.py)
   through the app's test client, logged in.
4. ``flask perf report`` and ``flask perf status``: wall time and peak RSS.
5. On a copy of the store: gunicorn serving ``/roster`` to two clients, 60 s without pruning,
   then during ``flask perf prune`` (default 30-day window), then 30 s after; p50/p99 of each
   phase (and the load average: other processes share the cores), the prune's wall time,
   peak RSS, rows and file sizes.

Writes benchmarks/results/history-<time>.json and prints a table. ``--skip-live`` leaves out
2 and 5 (no gunicorn), ``--skip-prune`` 5 alone. Which pieces the store had (flask_perf
indexes, rollup tables, a pending backfill) is recorded before the first start and before
the pages are timed.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import history_live as live  # noqa: E402
from benchmarks.history_pages import login, login_profiler, page_calls, send  # noqa: E402

RESULTS = live.ROOT / "benchmarks" / "results"
STORES = ("dashboard", "profiler", "slow_queries")


def pieces(directory: str) -> dict:
    """Which of flask_perf's pieces the store has: indexes (missing, retired still there), rollup
    tables, pending backfills."""
    from sqlalchemy import inspect, text

    from flask_perf.stores import indexes
    from flask_perf.stores.engines import store_engine

    specs = {"dashboard": indexes.DASHBOARD, "profiler": indexes.PROFILER, "slow_queries": indexes.SLOW_QUERIES}
    found = {"missing_indexes": [], "retired_indexes": [], "rollup_tables": [], "backfill_pending": [],
             "bytes": {}}
    for name in STORES:
        path = os.path.join(directory, f"{name}.db")
        if not os.path.exists(path):
            continue
        found["bytes"][name] = sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s))
        engine = store_engine(f"sqlite:///{path}", immediate=False)
        try:
            found["missing_indexes"] += [s.name for s in indexes._missing(engine, specs[name])]
            found["retired_indexes"] += [s.name for s in indexes._retired(engine, specs[name])]
            tables = inspect(engine).get_table_names()
            found["rollup_tables"] += [t for t in tables if "rollup" in t or "_counts_" in t]
            if "perf_rollup_backfill" in tables:
                with engine.connect() as conn:
                    found["backfill_pending"] += [row[0] for row in conn.execute(text(
                        "SELECT source FROM perf_rollup_backfill WHERE done_id < high_id"))]
        finally:
            engine.dispose()
    return found


def grow_store(directory: str, requests: int, days: float) -> dict:
    from benchmarks.history_store import default_urls, grow

    began = time.perf_counter()
    counts = grow(default_urls(directory), requests, days,
                  progress=lambda n: print(f"\r  {n:,} requests", end="", flush=True))
    print()
    seeded = live.flask(directory, "seed", log_path=os.path.join(directory, "seed.log"), APP_PROFILE="bare")
    return {"rows": counts, "seconds": round(time.perf_counter() - began, 1), "seed": seeded}


def first_start(directory: str, wait_s: float) -> dict:
    """The first start on the store; then wait (serving) until its background work is done."""
    log = os.path.join(directory, "gunicorn-first.log")
    server = live.Server(directory, log)
    try:
        try:
            result = {"first_answer_s": server.first_answer_s()}
        except RuntimeError as exc:  # recorded, then once more: the next start is no longer the first
            server.stop()
            failed = Path(log).read_text(errors="replace").strip().splitlines()[-3:]
            server = live.Server(directory, log)
            result = {"first_start_failed": f"{exc}: {failed}", "first_answer_s": server.first_answer_s()}
        deadline = time.perf_counter() + wait_s
        while time.perf_counter() < deadline:
            if server.proc.poll() is not None:
                raise RuntimeError(f"gunicorn stopped (exit {server.proc.returncode}); see {log}")
            state = pieces(directory)
            if not (state["missing_indexes"] or state["retired_indexes"] or state["backfill_pending"]):
                break
            time.sleep(2)
        result["background_work_s"] = round(time.perf_counter() - server.started, 1)
        return result
    finally:
        server.stop()


def time_pages(directory: str, repeat: int) -> list[dict]:
    import flask_perf  # noqa: F401 - defers scipy before FMD is imported
    from webapp import create_app

    app = create_app("testing", {"INSTANCE_PATH": directory, "PERF_MONITOR_PASSWORD": "bench-history-pw",
                                 "PERF_PRUNE_INTERVAL_S": 0})
    client = app.test_client()
    login(client, "admin", "bench-history-pw")
    login_profiler(client, "admin", "bench-history-pw")
    rows = []
    for call in page_calls(client):
        times, status = [], None
        for _ in range(repeat):
            began = time.perf_counter()
            response = send(client, call, "admin", "bench-history-pw")
            times.append((time.perf_counter() - began) * 1000)
            status = response.status_code
        rows.append({"page": call.page, "call": f"{call.method} {call.path.split('?')[0]}", "status": status,
                     "first_ms": round(times[0], 1), "median_ms": round(statistics.median(times), 1)})
        print(f"  {rows[-1]['median_ms']:>9.1f} ms  {status}  {rows[-1]['call']}", flush=True)
    return rows


def live_prune(directory: str, prune_args: list[str]) -> dict:
    copy = directory.rstrip("/") + "-prune"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(directory, copy, ignore=shutil.ignore_patterns("*.log", "loadtests"))
    before = pieces(copy)["bytes"]
    server = live.Server(copy, os.path.join(copy, "gunicorn-prune.log"))
    result = {}
    try:
        server.first_answer_s()
        with live.Load(server.url):  # warm-up
            time.sleep(5)
        with live.Load(server.url) as load:  # long enough to see the machine's own hiccups
            time.sleep(60)
        result["without_prune"] = {**load.summary(), "loadavg_1min": os.getloadavg()[0]}
        with live.Load(server.url) as load:
            result["prune"] = live.flask(copy, "perf", "prune", *prune_args, log_path=os.path.join(copy, "prune.log"))
        result["during_prune"] = {**load.summary(), "loadavg_1min": os.getloadavg()[0]}
        with live.Load(server.url) as load:
            time.sleep(30)
        result["after_prune"] = {**load.summary(), "loadavg_1min": os.getloadavg()[0]}
    finally:
        server.stop()
    result["prune_output"] = Path(copy, "prune.log").read_text(errors="replace").strip().splitlines()[-12:]
    result["bytes_before"], result["bytes_after"] = before, pieces(copy)["bytes"]
    shutil.rmtree(copy, ignore_errors=True)
    return result


def table(report: dict) -> str:
    lines = [f"history benchmark: {report['requests']:,} requests over {report['days']} days "
             f"({report['store']})"]
    if "first_start" in report:
        first = report["first_start"]
        lines.append(f"first start on the old store: /roster answered after {first['first_answer_s']} s "
                     f"(background work done after {first['background_work_s']} s)")
    lines.append(f"{'page':<26} {'API call':<52} {'ms':>9}")
    for row in report["pages"]:
        lines.append(f"{row['page']:<26} {row['call'][:52]:<52} {row['median_ms']:>9.1f}"
                     + ("" if row["status"] == 200 else f"  ({row['status']})"))
    for name, run in report["commands"].items():
        lines.append(f"{'flask perf ' + name:<26} {'':<52} {run['seconds'] * 1000:>9.0f}  "
                     f"peak RSS {run['peak_rss_mb']} MB")
    if "live_prune" in report:
        lp = report["live_prune"]
        lines.append(f"flask perf prune (live app): {lp['prune']['seconds']} s, peak RSS "
                     f"{lp['prune']['peak_rss_mb']} MB; files {sum(lp['bytes_before'].values()) / 1e6:.0f} → "
                     f"{sum(lp['bytes_after'].values()) / 1e6:.0f} MB")
        for phase in ("without_prune", "during_prune", "after_prune"):
            s = lp[phase]
            lines.append(f"  /roster {phase:<14} p50 {s.get('p50_ms')} ms  p99 {s.get('p99_ms')} ms  "
                         f"max {s.get('max_ms')} ms  ({s['requests']} requests, {s['errors']} errors, "
                         f"load average {s.get('loadavg_1min', 0):.1f})")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=90)
    parser.add_argument("--dir", help="where to grow the store (default: a folder in the temp dir)")
    parser.add_argument("--reuse", metavar="DIR", help="time the store grown in DIR before (no growing)")
    parser.add_argument("--repeat", type=int, default=1, help="times each API call (median shown)")
    parser.add_argument("--skip-live", action="store_true", help="no gunicorn: no first start, no live prune")
    parser.add_argument("--skip-prune", action="store_true", help="the first start, but no live prune")
    parser.add_argument("--wait", type=float, default=1800, help="seconds to let background work finish")
    parser.add_argument("--prune-days", type=float, default=30)
    args = parser.parse_args(argv)
    directory = os.path.abspath(args.reuse or args.dir or os.path.join(
        tempfile.gettempdir(), f"flask-perf-history-{args.requests}"))
    report = {"started": datetime.now(timezone.utc).isoformat(), "store": directory, "days": args.days}
    if not args.reuse:
        shutil.rmtree(directory, ignore_errors=True)
        print(f"growing {args.requests:,} requests in {directory}")
        report["grow"] = grow_store(directory, args.requests, args.days)
    report["pieces_before_start"] = pieces(directory)
    if not args.skip_live:
        print("first start (gunicorn -w 2)")
        report["first_start"] = first_start(directory, args.wait)
    report["pieces_when_timed"] = pieces(directory)
    report["requests"] = _count(directory)
    print("timing the pages")
    report["pages"] = time_pages(directory, args.repeat)
    report["pages_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    report["commands"] = {name: live.flask(directory, "perf", name, log_path=os.path.join(directory, f"{name}.log"))
                          for name in ("report", "status")}
    if not (args.skip_live or args.skip_prune):
        print("pruning under load")
        report["live_prune"] = live_prune(directory, ["--days", str(args.prune_days)])
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"history-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(table(report))
    print(f"results: {out}")
    return 0


def _count(directory: str) -> int:
    import sqlite3

    with sqlite3.connect(os.path.join(directory, "dashboard.db")) as conn:
        return conn.execute("SELECT COUNT(*) FROM Request").fetchone()[0]


if __name__ == "__main__":
    sys.exit(main())
