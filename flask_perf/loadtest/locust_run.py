"""The Locust process of ``flask perf loadtest`` (local, master or worker), Locust as a library.

Started by the command ``flask_perf.loadtest.locust_argv(CONFIG.json)``, which has
gevent patch the standard library before flask_perf is imported. CONFIG holds url,
users, spawn_rate, duration_s, rate, max_requests, locustfile, scenario, env
(variables for the locustfile: run id, the app's own), results_dir, workers and
master_port. It prints a progress line every two seconds and writes Locust's CSV
stats and ``locust.json`` (per-endpoint numbers) into results_dir. Users stop
gracefully (they finish the request under way), so every request the server saw
is counted here.
"""
from gevent import monkey

monkey.patch_all()

import csv  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
from locust import constant, constant_throughput  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.runners import WORKER_REPORT_INTERVAL  # noqa: E402
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV  # noqa: E402

from flask_perf.loadtest import locust_argv  # noqa: E402
from flask_perf.loadtest.users import load_locustfile, pick_users  # noqa: E402

STOP_TIMEOUT_S = 30
PERCENTILES = (0.5, 0.95, 0.99)


def make_environment(config: dict) -> Environment:
    users = pick_users(load_locustfile(config["locustfile"]), config["scenario"])
    wait = constant_throughput(config["rate"] / config["users"]) if config["rate"] else constant(0)
    for user in users:
        user.wait_time = wait
    return Environment(user_classes=users, host=config["url"], stop_timeout=STOP_TIMEOUT_S)


def entry_stats(entry) -> dict:
    return {"name": entry.name, "method": entry.method, "requests": entry.num_requests,
            "failures": entry.num_failures, "rps": round(entry.total_rps, 2),
            **{f"p{int(p * 100)}_ms": entry.get_response_time_percentile(p) for p in PERCENTILES},
            "max_ms": round(entry.max_response_time or 0, 1),
            "mean_ms": round(entry.avg_response_time, 1)}


def progress(env: Environment, started: float) -> None:
    while True:
        gevent.sleep(2)
        total = env.stats.total
        print(f"  {time.monotonic() - started:6.1f}s  requests {total.num_requests:>7}  "
              f"req/s {total.current_rps:7.1f}  failures {total.num_failures}", flush=True)


def spawn_workers(config: dict, path: str) -> list[subprocess.Popen]:
    return [subprocess.Popen(locust_argv(path, worker=True)) for _ in range(config["workers"])]


def wait_until(condition, timeout: float, wake: gevent.event.Event | None = None) -> bool:
    """Poll ``condition`` every 0.1 s, or at once when ``wake`` is set."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        if wake is None:
            gevent.sleep(0.1)
        else:
            wake.wait(0.1)
    return True


def run(config: dict, path: str) -> dict:
    env = make_environment(config)
    workers = []
    if config["workers"]:
        runner = env.create_master_runner("127.0.0.1", config["master_port"])
        workers = spawn_workers(config, path)
        if not wait_until(lambda: runner.worker_count >= config["workers"], 60):
            raise SystemExit(f"only {runner.worker_count} of {config['workers']} workers connected")
    else:
        runner = env.create_local_runner()
    started = time.monotonic()
    printer = gevent.spawn(progress, env, started)
    runner.start(config["users"], spawn_rate=config["spawn_rate"])
    limit = config["max_requests"]
    reached = gevent.event.Event()  # --max-requests: at 1,000 req/s a 0.1 s poll ran ~100 requests over
    if limit:  # a local run's requests; with workers the master's count arrives in their reports
        env.events.request.add_listener(lambda **_: env.stats.total.num_requests >= limit and reached.set())
    wait_until(lambda: (time.monotonic() - started >= config["duration_s"])
               or (limit and env.stats.total.num_requests >= limit), config["duration_s"] + 1, wake=reached)
    runner.stop()
    if workers:  # let the workers' last reports arrive
        wait_until(lambda: all(w.state in ("ready", "stopped", "missing")
                               for w in runner.clients.values()), STOP_TIMEOUT_S)
        gevent.sleep(WORKER_REPORT_INTERVAL + 1)
    elapsed = time.monotonic() - started
    printer.kill()
    runner.quit()
    for worker in workers:  # their stats are in; a worker still idling after stop is ended
        try:
            worker.wait(timeout=5)
        except subprocess.TimeoutExpired:
            worker.terminate()
            worker.wait(timeout=10)
    return write_results(env, config, elapsed)


def write_results(env: Environment, config: dict, elapsed: float) -> dict:
    out = config["results_dir"]
    writer = StatsCSV(env, PERCENTILES_TO_REPORT)
    for name, method in (("stats", writer.requests_csv), ("failures", writer.failures_csv),
                         ("exceptions", writer.exceptions_csv)):
        with open(os.path.join(out, f"locust_{name}.csv"), "w", newline="") as handle:
            method(csv.writer(handle))
    entries = sorted(env.stats.entries.values(), key=lambda e: e.name)
    result = {"elapsed_s": round(elapsed, 2), "endpoints": [entry_stats(e) for e in entries],
              "total": entry_stats(env.stats.total),
              "failures": [{"name": f.name, "error": str(f.error), "occurrences": f.occurrences}
                           for f in env.stats.errors.values()]}
    result["total"]["rps"] = round(result["total"]["requests"] / elapsed, 2) if elapsed else 0
    for endpoint in result["endpoints"]:
        endpoint["rps"] = round(endpoint["requests"] / elapsed, 2) if elapsed else 0
    with open(os.path.join(out, "locust.json"), "w") as handle:
        json.dump(result, handle, indent=2)
    return result


def run_worker(config: dict) -> None:
    env = make_environment(config)
    runner = env.create_worker_runner("127.0.0.1", config["master_port"])
    runner.greenlet.join()


def main() -> None:
    path = sys.argv[1]
    with open(path) as handle:
        config = json.load(handle)
    os.environ.update(config["env"])  # before the locustfile is imported: it may read them there
    if "--worker" in sys.argv:
        run_worker(config)
    else:
        run(config, path)


if __name__ == "__main__":
    main()
