"""The in-app pruner, and one pruning at a time per store dir across processes.

Each process that records requests runs a ``Pruner`` thread from its first recorded
request (when its writers start): it prunes then and every PERF_PRUNE_INTERVAL_S.
``exclusive`` (a file lock in the store dir) lets one worker prune while the others
skip (``flask perf prune`` and the end of a run wait instead), and ``touch``/``due``
(the mtime of a marker file) keep every process from pruning again within the interval.
"""
import contextlib
import fcntl
import os
import threading
import time

from flask_perf.stores.engines import open_private

LOCK, MARKER = ".retention.lock", ".retention-ran"


@contextlib.contextmanager
def exclusive(directory: str, wait: bool = True):
    """Hold the store dir's pruning lock; ``wait=False`` raises BlockingIOError if taken."""
    os.makedirs(directory, exist_ok=True)
    with open_private(os.path.join(directory, LOCK), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def touch(directory: str) -> None:
    path = os.path.join(directory, MARKER)
    with open_private(path):
        pass
    os.utime(path)


def due(directory: str, interval: float) -> bool:
    try:
        return time.time() - os.path.getmtime(os.path.join(directory, MARKER)) >= interval * 0.9
    except FileNotFoundError:
        return True


def lower_priority(niceness: int = 10) -> None:
    """Let the app's own threads have the CPU first: this thread's nice value (Linux sets it
    per thread; elsewhere, or without permission, nothing changes)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):
        pass


class Pruner:
    """Prunes in a daemon thread per process: when it starts, then every interval."""

    def __init__(self, app, prune):
        self.app, self.prune = app, prune  # retention.prune_quietly
        self.interval = float(app.config.get("PERF_PRUNE_INTERVAL_S", 3600))
        self._pid = None
        self._lock = threading.Lock()  # several writer threads may start it at once

    def ensure_started(self) -> None:
        with self._lock:
            if self.interval > 0 and self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="monitoring-pruner", daemon=True).start()

    def _run(self) -> None:
        lower_priority()
        directory = self.app.config["PERF_STORE_DIR"]
        while True:
            if due(directory, self.interval):  # not if another process pruned just now
                self.prune(self.app, wait=False)
            time.sleep(self.interval)
