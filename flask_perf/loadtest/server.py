"""The app under gunicorn on a free loopback port, for the length of a load test.

The same app the ``flask`` command loaded (``app_import.AppImport``), from the same
directory, with the caller's environment plus ``FLASK_PERF_PROFILE`` (and
``FLASK_PERF_VERSION``), which beat the app's config. The monitoring stores are
created once (``flask perf init``) before the workers start, so several workers
never race to create the same tables.
"""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from flask_perf.config import ENV_PROFILE, ENV_VERSION
from flask_perf.loadtest.app_import import AppImport

READY_PATH = "/_flask_perf/static/vendor/LICENSES.txt"  # flask_perf's blueprint, recorded by no tool
# Factories that pick their own config by APP_PROFILE fall back to FLASK_PERF_PROFILE when
# it is unset (the demo does): a value left in the caller's shell would pick another config.
SHADOWING_VARIABLES = ("APP_PROFILE",)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(profile: str, version_label: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SHADOWING_VARIABLES}
    env.update({ENV_PROFILE: profile, "PYTHONUNBUFFERED": "1"})
    if version_label:
        env[ENV_VERSION] = version_label
    return env


class GunicornServer:
    def __init__(self, target: AppImport, env: dict, log_path: str, workers: int = 2):
        self.target, self.env, self.log_path, self.workers = target, env, log_path, workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._log = None

    def __enter__(self) -> "GunicornServer":
        self._log = open(self.log_path, "wb")
        init = subprocess.run([sys.executable, "-m", "flask", "--app", self.target.flask_app,
                               "perf", "init"], env=self.env, stdout=self._log,
                              stderr=subprocess.STDOUT, timeout=120)
        if init.returncode != 0:
            raise RuntimeError(f"`flask perf init` failed (exit {init.returncode}); see {self.log_path}")
        argv = [sys.executable, "-m", "gunicorn", "-w", str(self.workers), "-b",
                f"127.0.0.1:{self.port}", "--graceful-timeout", "60",
                "--pythonpath", self.target.pythonpath, self.target.gunicorn_app]
        self.proc = subprocess.Popen(argv, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready(timeout=90)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url + READY_PATH, timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f}s; see {self.log_path}")

    def __exit__(self, *exc) -> None:
        """Graceful stop: workers finish, flush their monitoring queues and exit."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._log and not self._log.closed:
            self._log.close()
