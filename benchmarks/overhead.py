"""Overhead of each monitoring configuration against the bare app, measured side by side.

    .venv/bin/python benchmarks/overhead.py [--rounds 3] [--duration 10] [--connections 8]

For every configuration (each profile, and each tool alone on top of ``bare``) it
starts gunicorn with the same workers on a free loopback port, sends the same wrk
load (mixed /roster and /my_class, benchmarks/mix.lua) after a discarded warm-up,
and stops it. Configurations are interleaved and repeated; the table shows the
median req/s of the rounds, the median of each round's ratio to that round's
``bare`` run, and the CPU the workers spent per request (all their threads,
background writers included). ``--memory N`` then sends N
requests to a bare and a monitored server and compares the workers' resident
memory. Results also go to benchmarks/results/overhead-<time>.json. Needs wrk
(apt-get install wrk).
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
from flask_perf.loadtest.server import free_port  # noqa: E402

BENCH_SECRET_KEY = "benchmark-only-0c7e4a91d3f8b62e5a9c1d7f4b8e2a6c"  # production refuses one repeated character
BIN = Path(sys.executable).parent
CONFIGS = {
    "bare": {"APP_PROFILE": "bare"},
    "production": {"APP_PROFILE": "production"},
    "testing": {"APP_PROFILE": "testing"},
    "development": {"APP_PROFILE": "development"},
    "slow-query log": {"APP_PROFILE": "bare", "APP_PERF_SLOW_QUERY_ENABLED": "true"},
    "flask-profiler": {"APP_PROFILE": "bare", "APP_PERF_PROFILER_ENABLED": "true"},
    "dashboard level 1": {"APP_PROFILE": "bare", "APP_PERF_DASHBOARD_ENABLED": "true",
                          "APP_PERF_DASHBOARD_LEVEL": "1"},
    "dashboard level 3": {"APP_PROFILE": "bare", "APP_PERF_DASHBOARD_ENABLED": "true",
                          "APP_PERF_DASHBOARD_LEVEL": "3"},
    "toolbar": {"APP_PROFILE": "bare", "APP_PERF_TOOLBAR_ENABLED": "true"},
    "ProfilerMiddleware": {"APP_PROFILE": "bare", "APP_PERF_WSGI_PROFILER_ENABLED": "true",
                           "APP_PERF_WSGI_PROFILER_RESTRICTIONS": "[]"},
    "dashboard level 3, every request": {"APP_PROFILE": "bare", "APP_PERF_DASHBOARD_ENABLED": "true",
                                         "APP_PERF_DASHBOARD_LEVEL": "3",
                                         "APP_PERF_DASHBOARD_STACKS_PER_SECOND": "0"},
    "development, browser": {"APP_PROFILE": "development"},
    "toolbar, browser": {"APP_PROFILE": "bare", "APP_PERF_TOOLBAR_ENABLED": "true"},
}
# wrk sends no Accept header, so the toolbar (shown to browsers only) stays out of its
# way; these configurations send a browser's, so every HTML page gets the toolbar.
BROWSER = {"development, browser", "toolbar, browser"}
MEMORY_CONFIGS = ("bare", "production", "development")
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def flask(env: dict, *args: str) -> None:
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)


def serve(env: dict, workers: int, port: int) -> subprocess.Popen:
    flask(env, "perf", "init")
    proc = subprocess.Popen([str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
                             "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/static/vendor/LICENSES.txt", timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)


def worker_cpu_s(proc: subprocess.Popen) -> float:
    """CPU seconds (user + system, every thread) used so far by gunicorn's workers."""
    import psutil
    total = 0.0
    for child in psutil.Process(proc.pid).children():
        times = child.cpu_times()
        total += times.user + times.system
    return total


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


def config_env(seed_env: dict, work: Path, name: str) -> dict:
    return {**seed_env, **CONFIGS[name], "APP_INSTANCE_PATH": str(work / re.sub(r"\W", "-", name)),
            "APP_PERF_MONITOR_PASSWORD": "benchmark-only-password", "APP_SECRET_KEY": BENCH_SECRET_KEY}


def measure(args, seed_env: dict, work: Path, name: str) -> dict:
    """One warm-up and one measured wrk run of configuration ``name`` on a fresh server."""
    port = free_port()
    proc = serve(config_env(seed_env, work, name), args.workers, port)
    try:
        wrk(port, args.warmup, args.connections, name in BROWSER)
        cpu_before = worker_cpu_s(proc)
        run = wrk(port, args.duration, args.connections, name in BROWSER)
        run["cpu_us"] = (worker_cpu_s(proc) - cpu_before) / max(run["requests"], 1) * 1e6
    finally:
        stop(proc)
    return run


def throughput(args, names: list[str], seed_env: dict, work: Path) -> list[dict]:
    """Interleaved rounds of every configuration; the median per configuration.

    ``--paired`` runs bare right before each other configuration and takes the ratio
    to that neighbour: slower, but the machine's drift between the two is small."""
    results = {name: [] for name in names}
    pairs = {name: [] for name in names}  # (run, its bare neighbour) when paired
    for round_no in range(args.rounds):
        others = [n for n in names if n != "bare"]
        k = round_no % len(others) if others else 0
        order = others[k:] + others[:k]
        if not args.paired:
            order = ["bare"] + order if round_no % 2 == 0 else order + ["bare"]
        for name in order:
            if args.paired:
                results["bare"].append(neighbour := measure(args, seed_env, work, "bare"))
            run = measure(args, seed_env, work, name)
            results[name].append(run)
            if args.paired:
                pairs[name].append((run, neighbour))
            print(f"round {round_no + 1} {name:<34} {run['rps']:8.1f} req/s  p50 {run['p50_ms']:6.1f} ms  "
                  f"p99 {run['p99_ms']:6.1f} ms  worker CPU {run['cpu_us']:6.0f} µs/request"
                  + (f"  (bare just before: {neighbour['rps']:.1f})" if args.paired else ""), flush=True)
    bare_runs = results["bare"]
    for name in names:
        if name != "bare" and not args.paired:  # the same round's bare run
            pairs[name] = list(zip(results[name], bare_runs))
    pairs["bare"] = [(run, run) for run in bare_runs]
    bare_cpu = statistics.median(r["cpu_us"] for r in bare_runs)
    summary = []
    for name in names:
        runs = results[name]
        rps = statistics.median(r["rps"] for r in runs)
        # each run's ratio to its bare run (same round, or the one just before with
        # --paired), then the median: drift between rounds (a shared VM's speed
        # wanders by ±15 %) cancels out
        ratio = statistics.median(r["rps"] / b["rps"] for r, b in pairs[name])
        summary.append({"config": name, "rps": round(rps, 1), "ratio": round(ratio, 2),
                        "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
                        "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2),
                        "cpu_us": round(cpu := statistics.median(r["cpu_us"] for r in runs)),
                        "cpu_ratio": round(bare_cpu / cpu, 2),
                        "non_2xx": sum(r["non_2xx"] for r in runs), "runs": runs})
    print(f"\n{'configuration':<34} {'req/s':>8} {'ratio':>6} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'CPU µs/req':>11} {'CPU ratio':>9}")
    for row in summary:
        print(f"{row['config']:<34} {row['rps']:>8.1f} {row['ratio']:>6.2f} {row['p50_ms']:>8.1f} "
              f"{row['p99_ms']:>8.1f} {row['cpu_us']:>11} {row['cpu_ratio']:>9.2f}")
    return summary


def memory(args, seed_env: dict, work: Path) -> list[dict]:
    """Resident memory of each worker after ``args.memory`` requests, bare vs monitored."""
    rows = []
    for name in MEMORY_CONFIGS:
        port = free_port()
        proc = serve(config_env(seed_env, work, name), args.workers, port)
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
    parser.add_argument("--paired", action="store_true",
                        help="run bare right before every other configuration and compare the two")
    parser.add_argument("--memory", type=int, default=0, metavar="N",
                        help="also compare worker memory after N requests (bare, production, development)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    unknown = set(args.only or ()) - set(CONFIGS)
    if unknown:
        sys.exit(f"unknown configuration(s): {', '.join(sorted(unknown))}; known: {', '.join(CONFIGS)}")
    names = ["bare"] + [n for n in CONFIGS if n != "bare" and (not args.only or n in args.only)]
    work = Path(tempfile.mkdtemp(prefix="overhead-"))
    base = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    seed_env = {**base, "APP_PROFILE": "bare", "APP_INSTANCE_PATH": str(work / "seed"),
                "APP_SQLALCHEMY_DATABASE_URI": f"sqlite:///{work / 'school.db'}"}
    flask(seed_env, "seed")
    flask(seed_env, "perf", "indexes", "--apply")  # a fast app makes the monitoring cost visible
    summary = throughput(args, names, seed_env, work) if args.rounds else []
    memory_rows = memory(args, seed_env, work) if args.memory else []
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}"
    out = ROOT / "benchmarks" / "results" / f"overhead-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({"machine": machine, "python": platform.python_version(),
                               "args": vars(args), "summary": summary, "memory": memory_rows},
                              indent=2))
    print(f"\nresults: {out}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
