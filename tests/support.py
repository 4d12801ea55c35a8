"""Helpers for tests: free ports, MariaDB availability, real server processes."""
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from flask_perf.loadtest.server import free_port  # noqa: F401 - the tests' import point

ROOT = Path(__file__).resolve().parent.parent
MARIADB_HOST, MARIADB_PORT = "127.0.0.1", 3306


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def mariadb_available() -> bool:
    return port_open(MARIADB_HOST, MARIADB_PORT)


def venv_bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


class ServerProcess:
    """A real server (gunicorn or ``flask serve``) on a free loopback port."""

    def __init__(self, argv: list[str], env: dict, port: int, log_path: Path):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, path: str = "/", timeout: float = 30) -> "ServerProcess":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(self.url + path, timeout=2):
                    return self
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def server_env(instance: Path, profile: str, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    env.update(APP_PROFILE=profile, APP_INSTANCE_PATH=str(instance), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def start_gunicorn(instance: Path, profile: str, workers: int = 2, **extra: str) -> ServerProcess:
    port = free_port()
    argv = [venv_bin("gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}", "wsgi:app"]
    return ServerProcess(argv, server_env(instance, profile, **extra), port,
                         instance / f"gunicorn-{port}.log")


def start_grading_service(directory: Path, latency_ms: float = 0) -> ServerProcess:
    """The grading service (``python -m grading_service``) on a free port, ready."""
    port = free_port()
    argv = [sys.executable, "-m", "grading_service", "--port", str(port),
            "--latency-ms", str(latency_ms)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return ServerProcess(argv, env, port, directory / f"grading-{port}.log").wait_ready("/health")


def run_flask(instance: Path, profile: str, *args: str, **extra: str) -> subprocess.CompletedProcess:
    """Run ``flask --app wsgi ARGS`` in a subprocess, as a user would."""
    return subprocess.run([venv_bin("flask"), "--app", "wsgi", *args], cwd=ROOT,
                          env=server_env(instance, profile, **extra),
                          capture_output=True, text=True, timeout=300)


def wait_for_dashboard_threads(timeout: float = 10) -> None:
    """Join Flask-MonitoringDashboard's per-request profiler threads (they write its rows)."""
    import threading
    for thread in threading.enumerate():
        if type(thread).__module__.startswith("flask_monitoringdashboard.core.profiler"):
            thread.join(timeout)


def flush_monitoring(app) -> None:
    """Wait until every monitoring row of ``app`` queued so far is stored."""
    wait_for_dashboard_threads()
    state = app.extensions["flask_perf"]
    dropped = getattr(state, "dashboard_dropped", None)
    assert dropped is None or dropped.count == 0, dropped.last_error
    assert state.flush(), "a flask_perf writer did not flush"


@contextlib.contextmanager
def development_server(instance: Path, seed_args: tuple[str, ...], **extra: str):
    """``flask serve`` of the demo in the development profile (every tool on), seeded, ready."""
    seeded = run_flask(instance, "development", "seed", *seed_args, **extra)
    assert seeded.returncode == 0, seeded.stderr
    port = free_port()
    proc = ServerProcess([venv_bin("flask"), "--app", "wsgi", "serve", "--port", str(port)],
                         server_env(instance, "development", **extra), port, instance / "serve.log")
    try:
        proc.wait_ready("/")
        yield proc
    finally:
        proc.stop()


@contextlib.contextmanager
def guarded_page(browser, base_url: str, password: str, screenshot: Path):
    """A page of a fresh chromium context that may reach ``base_url`` only.

    It carries the monitoring login as HTTP credentials (for /flask-profile). Afterwards:
    a screenshot, and no request left the machine and no JavaScript error was raised.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  http_credentials={"username": "admin", "password": password})
    page = context.new_page()
    page.outside_requests, page.errors = [], []

    def guard(route):
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            page.outside_requests.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=True)
    context.close()
    assert page.outside_requests == [], "the page reached outside the machine"
    assert page.errors == [], "JavaScript errors on the page"


def require_command(name: str) -> str:
    """The path of a system command the test needs: fail in CI without it, skip elsewhere
    (scripts/system-deps.sh installs it)."""
    import shutil

    import pytest

    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (scripts/system-deps.sh installs it)"
        pytest.fail(message) if os.environ.get("CI") == "true" else pytest.skip(message)
    return path
