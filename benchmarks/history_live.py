"""The live part of benchmarks/history.py: the demo under gunicorn on a grown store.

``Server(instance)`` starts ``gunicorn -w 2 wsgi:app`` (APP_PROFILE=testing, the stores
in the instance folder, the app's own pruner off) and times its first answered
``/roster``; ``Load`` sends ``/roster?class_id=N`` from two closed-loop clients and keeps
each latency; ``run_measured(argv)`` runs a command and returns its wall time and peak
RSS (sampled).
"""
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
from flask_perf.loadtest.server import free_port  # noqa: E402


def app_env(instance: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "FLASK_PERF_"))}
    env.update(APP_PROFILE="testing", APP_INSTANCE_PATH=instance, APP_PERF_PRUNE_INTERVAL_S="0",
               APP_PERF_MONITOR_PASSWORD="bench-history-pw", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def run_measured(argv: list[str], env: dict, log_path: str) -> dict:
    """Wall seconds, peak RSS (MB, sampled every 20 ms) and exit code of one command (its
    output to ``log_path``). Not ``ru_maxrss``: a forked child starts with this process's
    size, and the kernel keeps that high-water mark across ``exec``."""
    with open(log_path, "wb") as log:
        began = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        watched, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            try:
                peak = max(peak, sum(p.memory_info().rss for p in [watched, *watched.children(recursive=True)]))
            except psutil.Error:  # it just exited
                pass
            time.sleep(0.02)
    return {"seconds": round(time.perf_counter() - began, 2), "peak_rss_mb": round(peak / 2**20, 1),
            "exit": proc.returncode}


def flask(instance: str, *args: str, log_path: str, **extra) -> dict:
    return run_measured([str(BIN / "flask"), "--app", "wsgi", *args], app_env(instance, **extra), log_path)


class Server:
    def __init__(self, instance: str, log_path: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log_path, "ab")
        self.started = time.perf_counter()
        # The benchmark logs in through its own app: these workers leave the User row alone (their
        # start's read-then-write of it failed when a backfill wrote meanwhile; see the report).
        env = app_env(instance, APP_PERF_DASHBOARD_MANAGE_USER="false")
        self.proc = subprocess.Popen([str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{self.port}",
                                      "wsgi:app"], cwd=ROOT, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def first_answer_s(self, timeout: float = 600) -> float:
        """Seconds from the start until ``/roster`` first answered 200."""
        deadline = self.started + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/roster?class_id=1", timeout=5) as response:
                    if response.status == 200:
                        return round(time.perf_counter() - self.started, 2)
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"no answer within {timeout} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


class Load:
    """Two clients asking for a class roster in turn, 20 ms apart each."""

    def __init__(self, url: str, classes: int = 1000, clients: int = 2, think_s: float = 0.02):
        self.url, self.classes, self.clients, self.think_s = url, classes, clients, think_s
        self.latencies_ms: list[float] = []
        self.slowest: list[tuple[float, float]] = []  # (ms, when: time.time() at the start)
        self.errors = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _client(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self._stop.is_set():
            began, at = time.perf_counter(), time.time()
            try:
                with urllib.request.urlopen(f"{self.url}/roster?class_id={rng.randint(1, self.classes)}",
                                            timeout=30) as response:
                    response.read()
                self.latencies_ms.append((time.perf_counter() - began) * 1000)
                if self.latencies_ms[-1] > 100:
                    self.slowest.append((round(self.latencies_ms[-1], 1), at))
            except OSError:
                self.errors += 1
            self._stop.wait(self.think_s)

    def summary(self) -> dict:
        values = sorted(self.latencies_ms)
        if not values:
            return {"requests": 0, "errors": self.errors}
        pick = lambda q: round(values[min(len(values) - 1, int(q * len(values)))], 1)  # noqa: E731
        return {"requests": len(values), "errors": self.errors, "p50_ms": pick(0.5), "p99_ms": pick(0.99),
                "max_ms": round(values[-1], 1)}
