"""What a monitoring configuration leaves on each request, by line: py-spy over inprocess.py.

    .venv/bin/python benchmarks/request_profile.py production [--requests 6000] [--rate 997]

Runs benchmarks/inprocess.py (no server; pruning off) once under ``py-spy record
--threads`` and once without it (for the CPU per request), then attributes every
sample of the request thread to the innermost frame that is either the app's
(``webapp/``), a monitoring tool's (flask_perf, Flask-MonitoringDashboard, flask-profiler,
the toolbar), or Flask/Werkzeug/SQLAlchemy ("framework"). A wrapper frame that only
calls on (the level slot, the level-1 wrapper, the SQL recorder's call into the
dialect) passes its callee's time on; a sample *in* such a frame is "framework" too:
mostly the view's locals being freed as it returns, which a bare app pays in Flask's
``dispatch_request``. What is left in the tools' own lines is "monitoring".
Samples that wait (py-spy counts some blocked waits, and ``time.sleep`` in FMD's
sampler, as active) are left out. The CPU of each thread is measured (inprocess.py:
the request thread, each writer, the threads that ended during the run: FMD's
level-3 threads); the request thread's samples are scaled to its own CPU per request.
Needs py-spy (requirements.txt, benchmark peers section) and ptrace (root, or
``kernel.yama.ptrace_scope=0``).
"""
import argparse
import collections
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASS_ON = {("flask_perf/dashboard/level1.py", "wrapper"), ("flask_perf/dashboard/levels.py", "level_slot"),
           ("flask_perf/sql/recording.py", "do_execute"), ("flask_perf/sql/recording.py", "do_execute_no_params"),
           ("flask_perf/sql/recording.py", "do_executemany"), ("flask_perf/profiler/capture.py", "wrapper"),
           ("flask_perf/dashboard/sampling.py", "wrapper"), ("flask_monitoringdashboard/core/measurement.py", "wrapper"),
           ("flask_monitoringdashboard/core/measurement.py", "evaluate")}
TOOLS = ("flask_perf/", "flask_monitoringdashboard/", "flask_profiler/", "flask_debugtoolbar/")
WAITING = ("Condition.wait", "Event.wait", "sleep", "_wait_for_tstate_lock", "BatchWriter._run (flask_perf/stores/writer.py")
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")


def classify(frames: list[str]) -> tuple[str, str | None]:
    """("app" | "monitoring" | "framework", the monitoring line) of one request-thread sample."""
    for depth, frame in enumerate(reversed(frames)):
        match = FRAME.match(frame)
        if not match:
            continue
        path, func = match["file"], match["func"].rsplit(".", 1)[-1]
        if any(path.endswith(p) and func == f for p, f in PASS_ON):
            return ("framework", None) if depth == 0 else ("app", None)
        if any(tool in path for tool in TOOLS):
            return "monitoring", frame
        if "webapp/" in path:
            return "app", None
    return "framework", None


def attribute(raw: Path) -> tuple[collections.Counter, collections.Counter]:
    """(samples by kind, monitoring samples by line) of the request thread's measured requests."""
    kinds, lines = collections.Counter(), collections.Counter()
    rows = [row.rpartition(" ") for row in raw.read_text().splitlines()]
    names = dict(re.match(r"thread \((\d+)\): (.*)", stack.split(";")[0]).groups()
                 for stack, _, _ in rows if re.match(r"thread \(\d+\): ", stack))
    for stack, _, count in rows:
        if not count.isdigit():
            continue
        head, *frames = stack.split(";")
        name = names.get(re.sub(r"\D", "", head.split(":")[0]), "?")
        if frames and any(w in frames[-1] for w in WAITING):
            continue
        if name == "MainThread" and any("run.<locals>.loop" in f for f in frames):  # the measured requests
            kind, line = classify(frames)
            kinds[kind] += int(count)
            if line:
                lines[line] += int(count)
    return kinds, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--rate", type=int, default=997)
    parser.add_argument("--work", type=Path, help="a folder seeded by inprocess.py (default: a new one)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from benchmarks.overhead import prepare_database
    from benchmarks.inprocess import seed_env

    work = args.work or Path(tempfile.mkdtemp(prefix="request-profile-"))
    if not (work / "school.db").exists():
        prepare_database(seed_env(work))
    run = [sys.executable, str(ROOT / "benchmarks" / "inprocess.py"), args.config, "--work", str(work),
           "--requests", str(args.requests), "--set=APP_PERF_PRUNE_INTERVAL_S=0"]
    plain = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    cpu = float(re.search(r"([\d.]+) µs CPU", plain).group(1))
    measured = {name: float(used) for name, used in
                re.findall(r"\s*([\w -]+?) (-?[\d.]+)(?:,|$)", plain.split("by thread: ", 1)[1].splitlines()[0])}
    raw = work / f"py-spy-{args.config.replace(' ', '-')}.txt"
    subprocess.run([str(Path(sys.executable).parent / "py-spy"), "record", "--threads", "--format", "raw",
                    "-r", str(args.rate), "-o", str(raw), "--", *run], capture_output=True, check=True)
    kinds, lines = attribute(raw)
    per = measured.get("MainThread", cpu) / max(1, sum(kinds.values()))
    print(f"{args.config}: {cpu:.0f} µs CPU per request (all threads, without py-spy)")
    for kind in ("app", "framework", "monitoring"):
        print(f"  request thread, {kind:<10} {kinds[kind] * per:8.1f} µs")
    for name, used in sorted(measured.items(), key=lambda item: -item[1]):
        if name != "MainThread":  # "threads that ended": FMD's level-3 threads
            print(f"  thread {name:<28} {used:8.1f} µs")
    print("monitoring on the request thread, by line:")
    for line, n in lines.most_common(25):
        print(f"  {n * per:6.1f} µs  {line}")


if __name__ == "__main__":
    main()
