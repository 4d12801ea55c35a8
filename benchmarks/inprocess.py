"""Per-request cost of a monitoring configuration, in one process, without a server.

    .venv/bin/python benchmarks/inprocess.py production bare [--requests 3000] [--profile]

Calls the WSGI app directly with the same /roster and /my_class mix as mix.lua,
then waits for the monitoring writers to flush, so their background work counts.
Prints wall and CPU microseconds per request (CPU of every thread of the
process, so a busy machine disturbs it less than wall time); ``--profile`` adds a
cProfile of the run (top functions by own time; SORT=cumulative and FILTER=<regex
of file paths> in the environment change that): the tool to find what a
configuration costs before the server benchmark (overhead.py) says how much.
``--set APP_KEY=VALUE`` adds config. For counts that a busy machine cannot disturb:

    valgrind --tool=callgrind .venv/bin/python benchmarks/inprocess.py production --work DIR ...

with 300 and 700 requests; the difference of the two totals / 400 is the
instructions per request (DIR: a folder seeded by a previous run, /tmp/inprocess-*).
Under callgrind everything runs ~50 times slower, so what is timed by the clock needs
scaling: ``--linger 50`` (the writers' batches), and for level 3
``--set APP_PERF_DASHBOARD_STACKS_PER_SECOND=0 --set APP_PERF_DASHBOARD_STACK_SAMPLE_EVERY=150
--set APP_PERF_DASHBOARD_SAMPLING_PERIOD_MS=1000`` (a stack every 150th request, as the cap
gives in-process, each with the one sample a fast request gets). Instruction counts
leave out the kernel and the caches: a thread's wake-ups and GIL hand-overs cost more
CPU time than instructions.
"""
import argparse
import cProfile
import io
import os
import pstats
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cpu_use import CpuUse  # noqa: E402
from benchmarks.overhead import BENCH_SECRET_KEY, CONFIGS, PEERS, prepare_database  # noqa: E402


def environ_for(path: str) -> dict:
    from werkzeug.test import EnvironBuilder
    return EnvironBuilder(path=path, base_url="http://127.0.0.1/",
                          environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()


def run(name: str, requests: int, school: Path, work: Path, profile: bool, extra: dict,
        linger: float | None = None) -> tuple:
    for key in [k for k in os.environ if k.startswith("APP_")]:
        del os.environ[key]
    os.environ.update(CONFIGS[name])
    os.environ.update(extra)
    from webapp import create_app

    app = create_app(None, {"INSTANCE_PATH": str(work / name.replace(" ", "-")),
                            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{school}",
                            "SECRET_KEY": BENCH_SECRET_KEY, "PERF_MONITOR_PASSWORD": "benchmark-only-password"})
    if linger is not None and "flask_perf" in app.extensions:  # callgrind: batches as large as without it
        for writer in app.extensions["flask_perf"].writers.values():
            writer.linger_s = linger
    rng = random.Random(42)
    paths = [f"/roster?class_id={rng.randint(1, 1000)}" if rng.random() < 0.5
             else f"/my_class?student_id={rng.randint(1, 10000)}" for _ in range(requests)]
    environs = [environ_for(p) for p in paths]

    def start_response(status, headers, exc_info=None):
        return lambda data: None

    def loop(batch):
        for environ in batch:
            body = app(dict(environ), start_response)
            for _ in body:
                pass
            getattr(body, "close", lambda: None)()

    loop(environs[:200])  # warm-up: caches, connections, first FMD endpoint rows
    profiler = cProfile.Profile() if profile else None
    use = CpuUse()
    use.start()
    started, cpu_started = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    loop(environs)
    use.requests_done()
    for thread in threading.enumerate():  # FMD's level-3 threads still storing their stack
        if not thread.daemon and thread is not threading.current_thread():
            thread.join()
    if "flask_perf" in app.extensions:  # what the writers still hold counts too
        app.extensions["flask_perf"].flush()
    if profiler:
        profiler.disable()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    use.written(cpu)
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("SORT", "tottime"))
        stats.print_stats(os.environ.get("FILTER", ""), 35)  # FILTER: a regex of file paths
        print(out.getvalue())
    return elapsed / requests * 1e6, cpu / requests * 1e6, use.lines(requests)


def seed_env(work: Path) -> dict:
    """The environment that seeds ``work``/school.db (prepare_database)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    env.update(APP_PROFILE="bare", APP_INSTANCE_PATH=str(work / "seed"), APP_SECRET_KEY=BENCH_SECRET_KEY,
               APP_SQLALCHEMY_DATABASE_URI=f"sqlite:///{work / 'school.db'}")
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="+", choices=sorted(set(CONFIGS) - set(PEERS)))  # peers: overhead.py
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--set", action="append", default=[], metavar="APP_KEY=VALUE",
                        help="extra config on top of each configuration, e.g. APP_PERF_DASHBOARD_LEVEL=3")
    parser.add_argument("--work", type=Path, help="a folder seeded by an earlier run (/tmp/inprocess-*)")
    parser.add_argument("--linger", type=float, help="seconds each store writer gathers a batch (default 1.0; "
                        "under callgrind, ~50 times that keeps batches as large as a real run's)")
    args = parser.parse_args()
    if args.work:  # one configuration per process: the tools keep per-process state
        wall, cpu, lines = run(args.configs[0], args.requests, args.work / "school.db", args.work,
                               args.profile, dict(item.split("=", 1) for item in args.set), args.linger)
        print(f"{args.configs[0]:<22} {wall:8.0f} µs/request wall {cpu:8.0f} µs CPU (all threads)", *lines,
              sep="\n", flush=True)
        return
    work = Path(tempfile.mkdtemp(prefix="inprocess-"))
    prepare_database(seed_env(work))  # seeded, with the indexes its EXPLAIN verdicts ask for
    for name in args.configs:
        subprocess.run([sys.executable, __file__, name, "--work", str(work), "--requests",
                        str(args.requests)] + (["--profile"] if args.profile else [])
                       + [f"--set={item}" for item in args.set], check=True)


if __name__ == "__main__":
    main()
