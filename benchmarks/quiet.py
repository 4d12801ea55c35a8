"""A quiet machine for benchmarks/overhead.py: wait for one, and tell whether a run had one.

The load average is a minute-long moving average, and it counts the benchmark's own
previous run: after a 10-second wrk run on two cores it reads ~2 however idle the
machine is now. So "quiet" is measured directly: the CPU the whole machine used
during a short sample (``/proc/stat``), in cores. ``wait_quiet`` waits until a
2-second sample is under ``max_busy`` cores (the load average is printed alongside);
``foreign_cores`` says how much CPU *other* processes used during a measured run:
the machine's busy time minus the time of the processes the benchmark started.
"""
import os
import resource
import time


def machine_cpu_s() -> float:
    """Busy CPU seconds of the whole machine since boot (every core; idle and iowait excluded)."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    ticks = sum(values[:8]) - values[3] - values[4]  # user … steal, less idle and iowait
    return ticks / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    """CPU seconds of this process's finished children (wrk, the flask commands)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def busy_cores(seconds: float = 2.0) -> float:
    before = machine_cpu_s()
    time.sleep(seconds)
    return (machine_cpu_s() - before) / seconds


def wait_quiet(max_busy: float, max_wait_s: float, log=print) -> dict:
    """Block until the machine is quiet (or ``max_wait_s`` passed); what was seen."""
    started = time.monotonic()
    while True:
        busy = busy_cores()
        waited = time.monotonic() - started
        if busy <= max_busy or waited >= max_wait_s:
            return {"busy_cores": round(busy, 2), "waited_s": round(waited), "quiet": busy <= max_busy,
                    "load_1min": round(os.getloadavg()[0], 2)}
        if int(waited) % 60 < 7:
            log(f"  waiting for a quiet machine: {busy:.2f} cores busy, load {os.getloadavg()[0]:.2f}",
                flush=True)
        time.sleep(5)


def foreign_cores(machine_s: float, own_s: float, seconds: float) -> float:
    """Cores' worth of CPU that other processes used while a run took ``seconds``."""
    return max(0.0, (machine_s - own_s) / seconds)
