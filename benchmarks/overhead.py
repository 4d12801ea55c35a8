"""Overhead of each monitoring configuration against the bare app, measured side by side.

    .venv/bin/python benchmarks/overhead.py [--rounds 3] [--duration 10] [--connections 8]
    .venv/bin/python benchmarks/overhead.py --paired --peers --only production ...

For every configuration (each profile, each tool alone on top of ``bare``, and with
``--peers`` the tools of others: prometheus-flask-exporter, OpenTelemetry, stock
Flask-MonitoringDashboard; benchmarks/peers/) it starts gunicorn with the same workers
on a free loopback port, sends the same wrk load (mixed /roster and /my_class,
benchmarks/mix.lua) after a discarded warm-up, and stops it. The database is seeded
and gets the indexes its EXPLAIN verdicts ask for, so the app itself is fast and the
monitoring cost shows. Configurations are interleaved and repeated; ``--paired`` runs
bare right before each other configuration and compares each run with that neighbour.

Before each server start the script waits for a quiet machine (benchmarks/quiet.py: a
2-second CPU sample under ``--quiet-cores``), and it measures what other processes
used during each run: a pair disturbed by more than that is run again (at most
``--retries`` times) and marked when it stays disturbed. The table shows the median
req/s, the median of each pair's ratio to its bare run with the spread (min–max over
the rounds), p50/p99 and the CPU the workers spent per request (all their threads,
background writers included). ``--memory N`` then sends N requests to a bare and a
monitored server and compares the workers' resident memory. Results also go to
benchmarks/results/overhead-<time>.json. Needs wrk (apt-get install wrk).
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks import quiet  # noqa: E402
from benchmarks.peers.collector import start_collector  # noqa: E402
from flask_perf.loadtest.server import free_port  # noqa: E402

BENCH_SECRET_KEY = "benchmark-only-0c7e4a91d3f8b62e5a9c1d7f4b8e2a6c"  # production refuses one repeated character
BIN = Path(sys.executable).parent
TOOL = {"APP_PROFILE": "bare"}
CONFIGS = {
    "bare": {"APP_PROFILE": "bare"},
    "production": {"APP_PROFILE": "production"},
    "testing": {"APP_PROFILE": "testing"},
    "development": {"APP_PROFILE": "development"},  # wrk is an API client: no toolbar
    "slow-query log": {**TOOL, "APP_PERF_SLOW_QUERY_ENABLED": "true", "APP_PERF_N_PLUS_ONE_ENABLED": "false"},
    "slow-query log + N+1": {**TOOL, "APP_PERF_SLOW_QUERY_ENABLED": "true"},
    "flask-profiler": {**TOOL, "APP_PERF_PROFILER_ENABLED": "true"},
    "dashboard level 1": {**TOOL, "APP_PERF_DASHBOARD_ENABLED": "true", "APP_PERF_DASHBOARD_LEVEL": "1"},
    "dashboard level 3": {**TOOL, "APP_PERF_DASHBOARD_ENABLED": "true", "APP_PERF_DASHBOARD_LEVEL": "3"},
    "toolbar": {**TOOL, "APP_PERF_TOOLBAR_ENABLED": "true"},
    "ProfilerMiddleware": {**TOOL, "APP_PERF_WSGI_PROFILER_ENABLED": "true",
                           "APP_PERF_WSGI_PROFILER_RESTRICTIONS": "[]"},
    "dashboard level 3, every request": {**TOOL, "APP_PERF_DASHBOARD_ENABLED": "true",
                                         "APP_PERF_DASHBOARD_LEVEL": "3",
                                         "APP_PERF_DASHBOARD_STACKS_PER_SECOND": "0"},
    "development, browser": {"APP_PROFILE": "development"},
    "toolbar, browser": {**TOOL, "APP_PERF_TOOLBAR_ENABLED": "true"},
    # peers (--peers): benchmarks/peers/, the demo app in its bare profile plus their tool
    "prometheus-flask-exporter": dict(TOOL),
    "OpenTelemetry": dict(TOOL),
    "FMD stock, level 1": dict(TOOL),
}
APPS = {"prometheus-flask-exporter": "benchmarks.peers.prometheus_exporter:app",
        "OpenTelemetry": "benchmarks.peers.otel:app", "FMD stock, level 1": "benchmarks.peers.fmd_stock:app"}
PEERS = tuple(APPS)
# wrk sends no Accept header, so the toolbar (shown to browsers only) stays out of its
# way; these configurations send a browser's, so every HTML page gets the toolbar.
BROWSER = {"development, browser", "toolbar, browser"}
MEMORY_CONFIGS = ("bare", "production", "development")
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def flask(env: dict, *args: str) -> None:
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)


def prepare_database(seed_env: dict) -> None:
    """Seed, let the slow-query log see the app's statements, and apply the indexes it hints."""
    flask(seed_env, "seed")
    feed = {**seed_env, "APP_PERF_SLOW_QUERY_ENABLED": "true", "APP_PERF_SLOW_QUERY_MS": "0",
            "APP_SECRET_KEY": BENCH_SECRET_KEY}
    subprocess.run([sys.executable, "-c", "from webapp import create_app; app = create_app(); "
                    "c = app.test_client(); c.get('/roster?class_id=1'); c.get('/my_class?student_id=1'); "
                    "app.extensions['flask_perf'].flush()"], cwd=ROOT, env=feed, check=True,
                   capture_output=True, timeout=300)
    flask(feed, "perf", "indexes", "--apply")  # a fast app makes the monitoring cost visible


def serve(env: dict, workers: int, port: int, app: str = "wsgi:app") -> subprocess.Popen:
    flask(env, "perf", "init")
    if app != "wsgi:app":  # a peer: its module creates its store once, before the workers race
        subprocess.run([sys.executable, "-c", f"import {app.split(':')[0]}"], cwd=ROOT, env=env, check=True,
                       capture_output=True, timeout=300)
    log = Path(env["APP_INSTANCE_PATH"]) / "gunicorn.log"
    with open(log, "wb") as stderr:
        proc = subprocess.Popen([str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", app],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr,
                                start_new_session=True)
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/roster?class_id=1", timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


def server_cpu_s(proc: subprocess.Popen, workers_only: bool = True) -> float:
    """CPU seconds (user + system, every thread) used so far by gunicorn's workers (and master)."""
    import psutil
    processes = psutil.Process(proc.pid).children() + ([] if workers_only else [psutil.Process(proc.pid)])
    return sum(p.cpu_times().user + p.cpu_times().system for p in processes)


def worker_rss_mb(proc: subprocess.Popen, kind: str = "rss") -> list[float]:
    """Each worker's resident (``rss``) or unique (``uss``: not shared with others) memory."""
    import psutil
    return [round(getattr(child.memory_full_info(), kind) / 2**20, 1)
            for child in psutil.Process(proc.pid).children()]


def wrk(port: int, seconds: float, connections: int, browser: bool = False) -> dict:
    headers = ["-H", f"Accept: {BROWSER_ACCEPT}"] if browser else []
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", *headers,
                          "-s", str(ROOT / "benchmarks" / "mix.lua"), f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, check=True).stdout

    def ms(label):
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": ms("50%"), "p99_ms": ms("99%"),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "non_2xx": int(errors.group(1)) if errors else 0}


def config_env(seed_env: dict, work: Path, name: str, start: int = 0) -> dict:
    folder = work / f"{re.sub(r'[^A-Za-z0-9]+', '-', name)}-{start}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "prometheus").mkdir(exist_ok=True)  # fresh per server: multiprocess files
    return {**seed_env, **CONFIGS[name], "APP_INSTANCE_PATH": str(folder),
            "APP_PERF_MONITOR_PASSWORD": "benchmark-only-password", "APP_SECRET_KEY": BENCH_SECRET_KEY,
            "PROMETHEUS_MULTIPROC_DIR": str(folder / "prometheus"),
            "BENCH_FMD_DATABASE": str(folder / "fmd-stock.db")}


def measure(args, seed_env: dict, work: Path, name: str) -> dict:
    """Wait for a quiet machine, then one warm-up and one measured wrk run on a fresh server."""
    args.starts += 1
    calm = quiet.wait_quiet(args.quiet_cores, args.quiet_wait)
    port = free_port()
    proc = serve(config_env(seed_env, work, name, args.starts), args.workers, port, APPS.get(name, "wsgi:app"))
    try:
        wrk(port, args.warmup, args.connections, name in BROWSER)
        cpu, own, machine = server_cpu_s(proc), server_cpu_s(proc, False), quiet.machine_cpu_s()
        wrk_cpu, started = quiet.children_cpu_s(), time.monotonic()
        run = wrk(port, args.duration, args.connections, name in BROWSER)
        took = time.monotonic() - started
        own = server_cpu_s(proc, False) - own + quiet.children_cpu_s() - wrk_cpu
        run["foreign_cores"] = round(quiet.foreign_cores(quiet.machine_cpu_s() - machine, own, took), 2)
        run["cpu_us"] = (server_cpu_s(proc) - cpu) / max(run["requests"], 1) * 1e6
        run["before"] = calm
    finally:
        stop(proc)
    return run


def measure_pair(args, seed_env: dict, work: Path, name: str) -> tuple[dict, dict]:
    """``name`` and its bare neighbour, again while another process disturbed either."""
    for attempt in range(args.retries + 1):
        neighbour = measure(args, seed_env, work, "bare")
        run = measure(args, seed_env, work, name)
        disturbed = max(run["foreign_cores"], neighbour["foreign_cores"]) > args.quiet_cores
        if not disturbed or attempt == args.retries:
            run["disturbed"] = neighbour["disturbed"] = disturbed
            return run, neighbour
        print(f"  {name}: another process used {max(run['foreign_cores'], neighbour['foreign_cores'])} "
              "cores during the pair: again", flush=True)


def throughput(args, names: list[str], seed_env: dict, work: Path) -> list[dict]:
    """Interleaved rounds of every configuration; the median per configuration.

    ``--paired`` runs bare right before each other configuration and takes the ratio
    to that neighbour: slower, but the machine's drift between the two is small."""
    results = {name: [] for name in names}
    pairs = {name: [] for name in names}  # (run, its bare run)
    for round_no in range(args.rounds):
        others = [n for n in names if n != "bare"]
        k = round_no % len(others) if others else 0
        order = others[k:] + others[:k]
        if not args.paired:
            order = ["bare"] + order if round_no % 2 == 0 else order + ["bare"]
        for name in order:
            if args.paired:
                run, neighbour = measure_pair(args, seed_env, work, name)
                results["bare"].append(neighbour)
                pairs[name].append((run, neighbour))
            else:
                run = measure(args, seed_env, work, name)
            results[name].append(run)
            print(f"round {round_no + 1} {name:<34} {run['rps']:8.1f} req/s  p50 {run['p50_ms']:6.1f} ms  "
                  f"p99 {run['p99_ms']:6.1f} ms  worker CPU {run['cpu_us']:6.0f} µs/request  "
                  f"others {run['foreign_cores']:.2f} cores"
                  + (f"  (bare just before: {neighbour['rps']:.1f})" if args.paired else ""), flush=True)
    if not args.paired:  # each run with the same round's bare run
        for name in names:
            pairs[name] = list(zip(results[name], results["bare"]))
    pairs["bare"] = [(run, run) for run in results["bare"]]
    bare_cpu = statistics.median(r["cpu_us"] for r in results["bare"])
    summary = [summarize(name, results[name], pairs[name], bare_cpu) for name in names]
    print(f"\n{'configuration':<34} {'req/s':>8} {'ratio':>6} {'spread':>11} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'CPU µs/req':>10} {'CPU ratio':>9}")
    for row in summary:
        print(f"{row['config']:<34} {row['rps']:>8.1f} {row['ratio']:>6.2f} "
              f"{row['ratio_min']:>5.2f}–{row['ratio_max']:<5.2f} {row['p50_ms']:>7.1f} {row['p99_ms']:>7.1f} "
              f"{row['cpu_us']:>10} {row['cpu_ratio']:>9.2f}")
    return summary


def summarize(name: str, runs: list[dict], pairs: list[tuple], bare_cpu: float) -> dict:
    # each run's ratio to its bare run, then the median and the spread: drift between
    # rounds (a shared VM's speed wanders by ±15 %) cancels out
    ratios = [r["rps"] / b["rps"] for r, b in pairs]
    cpu = statistics.median(r["cpu_us"] for r in runs)
    return {"config": name, "rps": round(statistics.median(r["rps"] for r in runs), 1),
            "ratio": round(statistics.median(ratios), 3), "ratio_min": round(min(ratios), 3),
            "ratio_max": round(max(ratios), 3),
            "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2),
            "cpu_us": round(cpu), "cpu_ratio": round(bare_cpu / cpu, 2),
            "non_2xx": sum(r["non_2xx"] for r in runs),
            "disturbed": sum(bool(r.get("disturbed")) for r in runs), "runs": runs}


def memory(args, seed_env: dict, work: Path) -> list[dict]:
    """Resident memory of each worker after ``args.memory`` requests, bare vs monitored."""
    rows = []
    for name in MEMORY_CONFIGS:
        args.starts += 1
        quiet.wait_quiet(args.quiet_cores, args.quiet_wait)
        port = free_port()
        proc = serve(config_env(seed_env, work, name, args.starts), args.workers, port)
        try:
            start_rss = worker_rss_mb(proc)
            sent = 0
            while sent < args.memory:
                sent += wrk(port, 10, args.connections)["requests"]
            rss, uss = worker_rss_mb(proc), worker_rss_mb(proc, "uss")
        finally:
            stop(proc)
        rows.append({"config": name, "requests": sent, "rss_start_mb": start_rss, "rss_mb": rss,
                     "uss_mb": uss})
        print(f"memory {name:<14} after {sent:>7} requests: worker RSS {rss} MB (at start {start_rss}),"
              f" unique {uss} MB", flush=True)
    bare = max(rows[0]["rss_mb"])
    for row in rows:
        row["ratio"] = round(max(row["rss_mb"]) / bare, 2)
        row["growth_mb"] = round(max(row["rss_mb"]) - max(row["rss_start_mb"]), 1)
        print(f"memory {row['config']:<14} largest worker {max(row['rss_mb']):7.1f} MB  "
              f"ratio to bare {row['ratio']:.2f}  grew {row['growth_mb']} MB during the run")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="configurations to run (bare is always run)")
    parser.add_argument("--peers", action="store_true", help="also run the peers: " + ", ".join(PEERS))
    parser.add_argument("--paired", action="store_true",
                        help="run bare right before every other configuration and compare the two")
    parser.add_argument("--memory", type=int, default=0, metavar="N",
                        help="also compare worker memory after N requests (bare, production, development)")
    parser.add_argument("--quiet-cores", type=float, default=0.3,
                        help="quiet: other processes use at most this many cores (default 0.3)")
    parser.add_argument("--quiet-wait", type=float, default=900, help="longest wait for a quiet machine, s")
    parser.add_argument("--retries", type=int, default=2, help="runs of a disturbed pair again (--paired)")
    args = parser.parse_args()
    args.starts = 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # the finally blocks stop the servers
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    unknown = set(args.only or ()) - set(CONFIGS)
    if unknown:
        sys.exit(f"unknown configuration(s): {', '.join(sorted(unknown))}; known: {', '.join(CONFIGS)}")
    chosen = [n for n in CONFIGS if n != "bare" and (n in (args.only or ()) or (not args.only and n not in PEERS))]
    names = ["bare"] + chosen + [n for n in PEERS if args.peers and n not in chosen]
    work = Path(tempfile.mkdtemp(prefix="overhead-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "PROMETHEUS_", "BENCH_"))}
    seed_env = {**base, "APP_PROFILE": "bare", "APP_INSTANCE_PATH": str(work / "seed"),
                "APP_SQLALCHEMY_DATABASE_URI": f"sqlite:///{work / 'school.db'}"}
    if "OpenTelemetry" in names:
        seed_env["BENCH_OTLP_ENDPOINT"] = start_collector() + "/v1/traces"
    prepare_database(seed_env)
    summary = throughput(args, names, seed_env, work) if args.rounds else []
    memory_rows = memory(args, seed_env, work) if args.memory else []
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}"
    out = ROOT / "benchmarks" / "results" / f"overhead-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({"machine": machine, "python": platform.python_version(), "command": sys.argv,
                               "args": vars(args), "summary": summary, "memory": memory_rows}, indent=2))
    print(f"\nresults: {out}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
