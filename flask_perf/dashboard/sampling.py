"""Level-3 call stacks within a budget; every request still counted.

Stock FMD level 3 starts a sampling thread per request (``traceback.extract_stack``
every 5 ms) and writes dozens of rows per request. Under load the writes fall
behind, the threads pile up, and what is still queued at shutdown is lost: a
10,000-request development load test kept 7,176 requests. Here a request gets the
call-stack profile only while fewer than PERF_DASHBOARD_STACKS_IN_FLIGHT (default 4)
profiled requests per process are running or waiting for their write, only
every PERF_DASHBOARD_STACK_SAMPLE_EVERY-th request (default 1), and at most
PERF_DASHBOARD_STACKS_PER_SECOND per process (default 2; 0 = no cap) after a burst of
PERF_DASHBOARD_STACKS_BURST (default 10): a token bucket, so a developer clicking
through pages gets every request profiled, while a load test gets a steady sample
(while the bucket is empty a request only compares the clock with the time of the
next token: no lock; the every-N-th count runs while there are tokens).
A profiled request cost its process ~15-25 ms of CPU in FMD's threads (a query and an
insert per stack line): at 10 per second and worker that was a quarter of a
development server's throughput under load (benchmarks/overhead.py); stacks.py now
stores a stack in a few statements (~1 ms). All the others take the level-1 path
(level1.py: a timer and a queue append), so counts stay exact.
"""
import functools
import itertools
import threading
import time

from flask_perf.dashboard import stacks
from flask_perf.dashboard.level1 import level1_wrapper

_state = {"in_flight": 0, "limit": 4, "every": 1, "counter": itertools.count(),
          "per_second": 2.0, "burst": 10.0, "tokens": 10.0, "stamp": 0.0, "empty_until": 0.0}
_lock = threading.Lock()


def _take_slot() -> bool:
    if time.monotonic() < _state["empty_until"]:  # no token before then: no lock, no count
        return False
    with _lock:
        if next(_state["counter"]) % _state["every"] or _state["in_flight"] >= _state["limit"]:
            return False
        if not _take_token(time.monotonic()):
            return False
        _state["in_flight"] += 1
        return True


def _take_token(now: float) -> bool:
    """The per-second cap: a bucket of ``burst`` tokens (at least ``per_second``), refilled
    at ``per_second``."""
    rate = _state["per_second"]
    if not rate:
        return True
    tokens = min(max(rate, _state["burst"]), _state["tokens"] + (now - _state["stamp"]) * rate)
    _state["stamp"] = now
    taken = tokens >= 1
    _state["tokens"] = tokens = tokens - 1 if taken else tokens
    _state["empty_until"] = now + (1 - tokens) / rate if tokens < 1 else 0.0
    return taken


def _release_slot() -> None:
    with _lock:
        _state["in_flight"] -= 1


def add_wrapper3(endpoint, fun):
    """FMD's ``add_wrapper3`` with the budget above."""
    from flask_monitoringdashboard import config
    from flask_monitoringdashboard.core import measurement
    from flask_monitoringdashboard.core.profiler import start_profiler_and_outlier_thread

    unprofiled = level1_wrapper(config.app, endpoint, fun)

    @functools.wraps(fun)
    def wrapper(*args, **kwargs):
        if not _take_slot():
            return unprofiled(*args, **kwargs)
        thread = start_profiler_and_outlier_thread(endpoint)
        start = time.time()
        result, status_code, e_collector, exception = measurement.evaluate(fun, args, kwargs)
        duration = time.time() - start
        thread.stop(duration, status_code, e_collector)
        if exception is not None:
            raise exception
        return result

    wrapper.original = fun
    config.app.view_functions[endpoint.name] = wrapper


def storing_stack(_fmd_stopped):
    """``StacktraceProfiler._on_thread_stopped``: FMD's rows stored in a few statements
    (stacks.py), then the request's slot freed."""
    def _on_thread_stopped(self):
        try:
            stacks.store(self)
        finally:
            _release_slot()

    return _on_thread_stopped


# What stacks.store reads of FMD's StacktraceProfiler (its __init__ must still set them).
PROFILER_STATE = ("_endpoint", "_duration", "_ip", "_group_by", "_status_code", "_histogram",
                  "_path_hash", "_total", "_outlier_profiler", "e_collector")

# FMD's sampler keeps the frames below the one named ``wrapper`` in its own
# measurement.py; ours lives here, so without this only the view's header is stored.
SAMPLER_FILE = __name__.replace(".", "/") + ".py"


def install(app) -> None:
    """Read the budget from ``app.config``; patches.py puts ``add_wrapper3`` in place."""
    _state["limit"] = int(app.config.get("PERF_DASHBOARD_STACKS_IN_FLIGHT", 4))
    _state["every"] = max(1, int(app.config.get("PERF_DASHBOARD_STACK_SAMPLE_EVERY", 1)))
    per_second = max(0.0, float(app.config.get("PERF_DASHBOARD_STACKS_PER_SECOND", 2)))
    burst = max(per_second, float(app.config.get("PERF_DASHBOARD_STACKS_BURST", 10)))
    _state["per_second"], _state["burst"], _state["tokens"] = per_second, burst, burst
    _state["empty_until"] = 0.0
