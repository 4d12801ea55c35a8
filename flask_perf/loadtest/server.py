"""The app under gunicorn on a free loopback port, for the length of a load test.

The monitoring stores are created once (``flask monitoring init``) before the
workers start, so several workers never race to create the same tables.
"""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


READY_PATH = "/static/vendor/LICENSES.txt"  # served by Flask, recorded by no tool


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GunicornServer:
    def __init__(self, env: dict, log_path: str, workers: int = 2):
        self.env, self.log_path, self.workers = env, log_path, workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "GunicornServer":
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "monitoring", "init"],
                       cwd=REPO_ROOT, env=self.env, check=True, capture_output=True, timeout=120)
        self._log = open(self.log_path, "wb")
        argv = [sys.executable, "-m", "gunicorn", "-w", str(self.workers), "-b",
                f"127.0.0.1:{self.port}", "--graceful-timeout", "60", "wsgi:app"]
        self.proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(timeout=90)
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
        self._log.close()


def server_env(instance_path: str, profile: str, database_uri: str) -> dict:
    env = dict(os.environ)
    env.update(APP_PROFILE=profile, APP_INSTANCE_PATH=instance_path,
               APP_SQLALCHEMY_DATABASE_URI=database_uri, PYTHONUNBUFFERED="1")
    return env
