"""Where a process's CPU goes while inprocess.py runs its requests, by thread.

``CpuUse.start()`` before the requests, ``requests_done()`` right after the last one
(the request thread's own figures stop there), ``written(process_cpu)`` once the writers
have flushed. ``lines(requests)`` says, per request: CPU µs of the request thread, of
each writer thread (and its part in the kernel) and of the threads that ended meanwhile
(FMD's level-3 threads: the process's CPU minus the live threads'); for the request
thread, its µs in the garbage collector and in the kernel, how often it waited (the
GIL, a lock) and was preempted. The first line is what request_profile.py parses.
"""
import gc
import os
import resource
import threading
import time


class CpuUse:
    def __init__(self):
        self.threads: dict[str, float] = {}
        self.usage = self.gc_runs = None
        self.gc_seconds, self._gc_started = 0.0, None

    def start(self) -> None:
        self.threads, self.usage = thread_cpu(), resource.getrusage(resource.RUSAGE_THREAD)
        self.gc_runs = [0, 0, 0]
        gc.callbacks.append(self._collecting)

    def requests_done(self) -> None:
        gc.callbacks.remove(self._collecting)
        now = resource.getrusage(resource.RUSAGE_THREAD)
        self.usage = {"kernel": now.ru_stime - self.usage.ru_stime, "waits": now.ru_nvcsw - self.usage.ru_nvcsw,
                      "preempted": now.ru_nivcsw - self.usage.ru_nivcsw}

    def written(self, process_cpu: float) -> None:
        """After the flush: each live thread's CPU since ``start``, and the rest."""
        used = {name: seconds - self.threads.get(name, 0.0) for name, seconds in thread_cpu().items()}
        kernel = {name: used.pop(name) for name in list(used) if name.endswith(" in the kernel")}
        used["threads that ended"] = process_cpu - sum(used.values())
        used.update((name, seconds) for name, seconds in kernel.items() if not name.startswith("MainThread"))
        self.threads = used

    def lines(self, requests: int) -> list[str]:
        per = 1e6 / requests
        threads = sorted(self.threads.items(), key=lambda item: -item[1])
        return ["  by thread: " + ", ".join(f"{name} {seconds * per:.0f}" for name, seconds in threads
                                          if abs(seconds * per) >= 0.5),
                f"  request thread: {self.gc_seconds * per:.0f} µs collecting garbage "
                f"(collections by generation {self.gc_runs}), {self.usage['kernel'] * per:.0f} µs in the "
                f"kernel, {self.usage['waits'] / requests:.2f} waits (the GIL, a lock) and "
                f"{self.usage['preempted'] / requests:.2f} preemptions per request"]

    def _collecting(self, phase: str, info: dict) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        if phase == "start":
            self._gc_started = time.thread_time()
        elif self._gc_started is not None:
            self.gc_seconds += time.thread_time() - self._gc_started
            self.gc_runs[info["generation"]] += 1
            self._gc_started = None


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each live thread by name (``pthread_getcpuclockid``), and as
    "<name> in the kernel" its part in the kernel (/proc, clock ticks)."""
    used, tick = {}, os.sysconf("SC_CLK_TCK")
    for thread in threading.enumerate():
        try:
            seconds = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
            with open(f"/proc/self/task/{thread.native_id}/stat") as stat:
                kernel = int(stat.read().rpartition(")")[2].split()[12]) / tick
        except (OSError, TypeError):  # ended meanwhile: counted with the threads that ended
            continue
        used[thread.name] = used.get(thread.name, 0.0) + seconds
        used[f"{thread.name} in the kernel"] = used.get(f"{thread.name} in the kernel", 0.0) + kernel
    return used
