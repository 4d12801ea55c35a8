"""Safe to leave on: many workers start cleanly, lose nothing, and outlive their stores' faults."""
import concurrent.futures
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.support import ROOT, ServerProcess, free_port, run_flask, server_env, venv_bin
from flask_perf.loadtest import RUN_HEADER
from flask_perf.loadtest.results import dashboard_count, profiler_count

pytestmark = pytest.mark.server


def start(instance: Path, *args: str, workers: int, env_extra=None, ready=True) -> ServerProcess:
    port = free_port()
    argv = [venv_bin("gunicorn"), "-c", str(ROOT / "tests" / "gunicorn_ready.py"),
            "-b", f"127.0.0.1:{port}", "-w", str(workers), *args, "wsgi:app"]
    server = ServerProcess(argv, server_env(instance, "testing", **(env_extra or {})), port,
                           instance / f"gunicorn-{port}.log")
    if ready:
        deadline = time.monotonic() + 90
        while server.log().count("flask-perf worker ready") < workers:
            if server.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"workers did not all start:\n{server.log()[-3000:]}")
            time.sleep(0.1)
    return server


def load(url: str, run_id: str, count: int, concurrency: int = 16) -> list[tuple[int, float]]:
    """``count`` GETs over ``concurrency`` threads: [(status, seconds)]."""
    paths = [f"/roster?class_id={i % 30 + 1}" if i % 2 else f"/my_class?student_id={i % 300 + 1}"
             for i in range(count)]

    def one(path):
        started = time.monotonic()
        request = urllib.request.Request(url + path, headers={RUN_HEADER: run_id})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        return status, time.monotonic() - started

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, paths))


def recorded(urls: dict, run_id: str) -> dict:
    return {"dashboard": dashboard_count(urls["dashboard"], run_id),
            "profiler": profiler_count(urls["profiler"], run_id)}


def sqlite_urls(instance: Path) -> dict:
    return {"dashboard": f"sqlite:///{instance / 'dashboard.db'}",
            "profiler": f"sqlite:///{instance / 'profiler.db'}"}


@pytest.fixture
def instance(tmp_path):
    seeded = run_flask(tmp_path, "testing", "seed", "--students", "300", "--classes", "30",
                       "--per-student", "3")
    assert seeded.returncode == 0, seeded.stderr
    return tmp_path


@pytest.mark.parametrize("args, workers, starts", [((), 4, 20), (("--threads", "4"), 2, 5)])
def test_workers_start_on_a_fresh_instance_every_time(tmp_path, args, workers, starts):
    for attempt in range(starts):
        fresh = tmp_path / f"start-{attempt}"
        fresh.mkdir()
        server = start(fresh, *args, workers=workers)
        try:
            assert server.proc.poll() is None
            with urllib.request.urlopen(server.url + "/") as response:
                assert response.status == 200
        finally:
            server.stop()
        log = server.log()
        assert "already exists" not in log and "Traceback" not in log, log[-3000:]
        assert len(set(p for p in os.listdir(fresh) if p == "config.py")) == 1


@pytest.mark.parametrize("store", ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
@pytest.mark.parametrize("args, workers, count", [((), 4, 2000), (("--threads", "4"), 2, 1500)])
def test_no_record_lost_under_multiprocess_load(instance, request, store, args, workers, count):
    env, urls = {}, sqlite_urls(instance)
    if store == "mariadb":
        urls = {"dashboard": request.getfixturevalue("mariadb_database")(),
                "profiler": request.getfixturevalue("mariadb_database")()}
        env = {"APP_PERF_DASHBOARD_DATABASE_URL": urls["dashboard"],
               "APP_PERF_PROFILER_DATABASE_URL": urls["profiler"],
               "APP_PERF_SLOW_QUERY_DATABASE_URL": urls["profiler"]}
    server = start(instance, *args, workers=workers, env_extra=env)
    run_id = f"reliability-{uuid.uuid4().hex[:8]}"
    try:
        results = load(server.url, run_id, count)
    finally:
        server.stop()
    assert [s for s, _ in results if s != 200] == []
    assert recorded(urls, run_id) == {"dashboard": count, "profiler": count}
    log = server.log()
    assert "dropped" not in log and "Traceback" not in log, log[-3000:]


def store_errors(log: str) -> list[str]:
    return [line for line in log.splitlines()
            if "flask_perf" in line and "ERROR" in line]


@contextlib.contextmanager
def locked(path: Path, seconds: float):
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    try:
        yield
        time.sleep(seconds)
    finally:
        conn.execute("ROLLBACK")
        conn.close()


@contextlib.contextmanager
def read_only(path: Path, seconds: float):
    # Not the -shm file: SQLite maps it into memory, and revoking a live mapping
    # kills the process with SIGBUS (a fault of the test's making, not a store's).
    files = [p for p in (path, Path(f"{path}-wal")) if p.exists()]
    subprocess.run(["chattr", "+i", *map(str, files)], check=True)
    try:
        yield
        time.sleep(seconds)
    finally:
        subprocess.run(["chattr", "-i", *map(str, files)], check=True)


@contextlib.contextmanager
def deleted(path: Path, seconds: float):
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")
    yield
    time.sleep(seconds)


FAULTS = {"locked": locked, "read-only": read_only, "deleted": deleted}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_requests_outlive_a_failing_store(instance, fault):
    if fault == "read-only" and shutil.which("chattr") is None:
        pytest.skip("chattr is not available")
    server = start(instance, workers=2)
    run_id = f"fault-{uuid.uuid4().hex[:8]}"
    try:
        load(server.url, run_id, 50)  # warm: the stores exist and hold rows
        stores = [instance / "dashboard.db", instance / "profiler.db"]
        with contextlib.ExitStack() as stack:
            for path in stores:
                stack.enter_context(FAULTS[fault](path, 0))
            during = load(server.url, run_id, 300, concurrency=8)
            time.sleep(3)  # the writers hit the fault meanwhile
        after = load(server.url, run_id, 50)
    finally:
        server.stop()
    statuses = [s for s, _ in during + after]
    assert statuses.count(200) == len(statuses)
    worst = max(seconds for _, seconds in during)
    assert worst < 2.0, f"a request waited {worst:.2f}s on the failing store"
    counts = recorded(sqlite_urls(instance), run_id)
    if fault == "deleted":  # the old rows went with the file; the new file holds the rest
        assert counts["dashboard"] >= 300 and counts["profiler"] >= 300
    else:  # queued through the fault and written once the store was back
        assert counts == {"dashboard": 400, "profiler": 400}
    errors = store_errors(server.log())
    if fault == "read-only":  # a lock of seconds is waited out; a deleted file is recreated
        assert errors, "the fault was never noticed"
    assert len(errors) <= 2 * 2 * 2, errors  # once per interval per writer per worker, not per request


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "8m"):
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb") as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
    return filler


def test_requests_outlive_a_full_disk(instance):
    with small_tmpfs(instance / "mon") as mon:
        server = start(instance, workers=2, env_extra={"APP_PERF_STORE_DIR": str(mon)})
        run_id = f"full-{uuid.uuid4().hex[:8]}"
        try:
            load(server.url, run_id, 50)
            filler = fill(mon)
            during = load(server.url, run_id, 300, concurrency=8)
            time.sleep(3)
            filler.unlink()  # space again: the queued rows go in
            after = load(server.url, run_id, 50)
        finally:
            server.stop()
        assert [s for s, _ in during + after].count(200) == 350
        assert max(seconds for _, seconds in during) < 2.0
        assert recorded(sqlite_urls(mon), run_id) == {"dashboard": 400, "profiler": 400}
        errors = store_errors(server.log())
        assert any("disk is full" in line or "disk I/O error" in line for line in errors)
        assert len(errors) <= 2 * 2 * 2, errors
        assert "writes again (0 dropped meanwhile)" in server.log()
        health = [json.loads((mon / "health" / n).read_text()) for n in os.listdir(mon / "health")]
        assert health and all(h["dropped"] == 0 for h in health)
        assert sum(h["failures"] for h in health) > 0
