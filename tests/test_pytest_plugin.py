"""The pytest plugin: a tiny app's own suite, run with --perf, feeds one store across runs.

Each case runs that suite in a pytest subprocess (pytester), as a user's CI would:
the plugin through its ``pytest11`` entry point when flask-perf is installed, else
through ``-p``. The tiny app sleeps a fixed 50 ms per view (plus ``TINY_EXTRA_MS_<VIEW>``): a
busy machine adds a few ms of scheduling delay to some requests, which must not
look like a regression (the unchanged run's gate is 50 %, the slowed one's 20 %).
"""
import importlib.metadata
import json
import os
import re
import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from benchmarks.history_store import default_urls, grow
from flask_perf.report import runs
from flask_perf.report.recorded_session import RecordedSession
from flask_perf.stores.pruner import MARKER
from tests.support import ROOT

pytest_plugins = ["pytester"]

TINY_APP = '''
import json, os, secrets, time
from pathlib import Path

from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from flask_perf import FlaskPerf

db = SQLAlchemy()


class Shelf(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


class Book(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    shelf_id: Mapped[int] = mapped_column()  # no index: every lookup scans the table
    title: Mapped[str] = mapped_column(String(40))


def pause(view):
    time.sleep((50 + float(os.environ.get("TINY_EXTRA_MS_" + view.upper(), "0"))) / 1000)


def create_app(instance):
    os.makedirs(instance, exist_ok=True)
    app = Flask(__name__, instance_path=str(instance))
    app.config.update(TESTING=True, SECRET_KEY=secrets.token_hex(32), PERF_SLOW_QUERY_MS=0,
                      PERF_DASHBOARD_MANAGE_USER=False, PERF_PROFILER_ENABLED=False,  # not read here
                      SQLALCHEMY_DATABASE_URI=f"sqlite:///{instance}/tiny.db")
    db.init_app(app)

    @app.get("/ping")
    def ping():
        pause("ping")
        return "pong"

    @app.get("/report")
    def report():
        pause("report")
        return "done"

    @app.get("/shelves")
    def shelves():  # one query per shelf: an N+1
        pause("shelves")
        return jsonify({s.name: [b.title for b in db.session.scalars(
            db.select(Book).where(Book.shelf_id == s.id))] for s in db.session.scalars(db.select(Shelf))})

    with app.app_context():
        db.create_all()
        db.session.add_all([Shelf(id=i, name=f"s{i}") for i in range(1, 7)])
        db.session.add_all([Book(shelf_id=i % 6 + 1, title=f"b{i}") for i in range(30)])
        db.session.commit()
    FlaskPerf(app)
    Path("observed.json").write_text(json.dumps(
        {k: app.config[k] for k in ("PERF_VERSION", "PERF_PROFILE", "PERF_STORE_DIR")}))
    return app
'''
TINY_TESTS = '''
import pytest

from tinyapp import create_app


@pytest.fixture
def client(tmp_path):
    return create_app(tmp_path / "instance").test_client()


@pytest.mark.parametrize("path", ["/ping", "/report", "/shelves"])
def test_endpoint(client, path):
    for _ in range(20):
        assert client.get(path).status_code == 200
'''
ENTRY_POINT = any(ep.value == "flask_perf.pytest_plugin"
                  for ep in importlib.metadata.entry_points(group="pytest11"))
LABEL = re.compile(r"run (\S+ test-run \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ): ")


@pytest.fixture
def suite(pytester, monkeypatch):
    """The tiny app and its tests; ``suite(*args, **env)`` runs them in a subprocess."""
    for name in ("PERF_PYTEST", "FLASK_PERF_VERSION", "FLASK_PERF_PROFILE", "FLASK_PERF_STORE_DIR",
                 "FLASK_PERF_DEFAULT_PROFILE"):  # the outer run may have been started with --perf
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(tinyapp=TINY_APP, test_tiny=TINY_TESTS)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")

    def run(*args, inprocess=False, **env):
        """``inprocess``: for runs that build no app (FMD's state is per process)."""
        with monkeypatch.context() as m:
            for name, value in env.items():
                m.setenv(name, value)
            args = [*([] if ENTRY_POINT else ["-p", "flask_perf.pytest_plugin"]), "-p", "no:cacheprovider", *args]
            if inprocess:
                return pytester.runpytest_inprocess(*args)
            return pytester.runpytest_subprocess(*args, timeout=180)
    return run


def output(result) -> str:
    return result.stdout.str() + result.stderr.str()


def observed(pytester) -> dict:
    return json.loads((pytester.path / "observed.json").read_text())


def test_without_perf_the_run_is_left_alone(suite, pytester):
    result = suite("-k", "ping")
    assert result.ret == 0, output(result)
    assert not re.search(r"^=+ flask_perf =+$", result.stdout.str(), re.M)
    seen = observed(pytester)  # the app's own choices, untouched
    assert seen["PERF_VERSION"] == "unversioned" and seen["PERF_PROFILE"] == "production"
    assert seen["PERF_STORE_DIR"].endswith("instance") and str(pytester.path / "store") not in seen["PERF_STORE_DIR"]
    assert not (pytester.path / "store").exists()


def test_loading_the_plugin_imports_nothing_heavy(pytester, suite):
    pytester.makepyfile(test_plain="""
        import sys

        def test_untouched():
            assert "flask_monitoringdashboard" not in sys.modules
            assert "scipy.stats" not in sys.modules
    """)
    result = suite("test_plain.py")
    assert result.ret == 0, output(result)


def test_help_lists_the_options(suite):
    result = suite("--help", inprocess=True)
    assert result.ret == 0
    for option in ("--perf ", "--perf-fail-over=PCT", "--perf-store-dir=DIR"):
        assert option in result.stdout.str()


def test_runs_build_up_in_one_store_and_the_gate_catches_a_slower_endpoint(suite, pytester):
    store = pytester.path / "store"
    first = suite(PERF_PYTEST="1", FLASK_PERF_STORE_DIR=str(store), FLASK_PERF_VERSION="v1")
    text = output(first)
    assert first.ret == 0, text
    assert re.search(r"^=+ flask_perf =+$", text, re.M)
    label = LABEL.search(text).group(1)
    assert label.startswith("v1 test-run ")
    with sqlite3.connect(store / "dashboard.db") as conn:
        assert conn.execute("SELECT DISTINCT version_requested FROM Request").fetchall() == [(label,)]
        assert conn.execute("SELECT COUNT(*) FROM Request").fetchone() == (60,)
    assert observed(pytester) == {"PERF_VERSION": label, "PERF_PROFILE": "testing",
                                  "PERF_STORE_DIR": str(store)}
    assert re.search(r"^report\s+20\s+5\d\.\d\s+\d+\.\d\s+0$", text, re.M)
    assert re.search(r"^n\+1\s+shelves\s+in 20 requests, up to 6× SELECT book\.", text, re.M)
    assert "book: FULL SCAN; hint: CREATE INDEX ix_hint_book_shelf_id ON book (shelf_id)" in text
    assert "no earlier test run in" in text

    subprocess.run(["git", "init", "-q"], cwd=pytester.path, check=True)
    subprocess.run(["git", "add", "tinyapp.py", "test_tiny.py", "tox.ini"], cwd=pytester.path, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "tiny"],
                   cwd=pytester.path, check=True)
    gate = ("-k", "ping or report", "--perf", "--perf-store-dir", str(store), "--perf-fail-over")
    same = suite(*gate, "50")
    text = output(same)
    assert same.ret == 0, text
    second = LABEL.search(text).group(1)
    assert re.fullmatch(r"g[0-9a-f]{8} test-run \S+", second)  # the git revision of the suite
    assert f"Against the previous test run {label} (p95, ms)" in text
    assert "no endpoint's p95 regressed by more than 50%" in text

    slower = suite(*gate, "20", TINY_EXTRA_MS_REPORT="100")
    text = output(slower)
    assert slower.ret == 1, text
    assert "2 passed" in text  # the tests pass; the gate fails the session
    assert f"Against the previous test run {second} (p95, ms)" in text
    assert re.search(r"^REGRESSION report: p95 \+\d+% > 20% \(\d+\.\d → \d+\.\d ms\)$", text, re.M)


@pytest.mark.parametrize("args, env, message", [
    (("--perf-fail-over", "abc"), {}, "'abc' is not a percentage"),
    (("--perf-fail-over", "nan"), {}, "must be 0 or more"),
    ((), {"PERF_PYTEST": "maybe"}, "PERF_PYTEST='maybe': use 1"),
    (("--perf-store-dir", "tinyapp.py"), {}, "--perf-store-dir"),
])
def test_bad_input_is_a_usage_error(suite, args, env, message):
    result = suite(*args, inprocess=True, **env)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in output(result) and "Traceback" not in output(result)


def test_the_end_of_a_recorded_run_prunes_old_history(suite, pytester, make_app):
    store = pytester.path / "store"
    make_app("testing", PERF_STORE_DIR=str(store), PERF_PRUNE_INTERVAL_S=0)  # the stores, as a run leaves them
    grow(default_urls(str(store)), requests=200, days=60, now=datetime.now(timezone.utc) - timedelta(days=40))
    (store / MARKER).touch()  # pruned just now: the apps' own pruners are not due
    result = suite("-k", "ping", PERF_PYTEST="1", FLASK_PERF_STORE_DIR=str(store))
    assert result.ret == 0, output(result)
    with sqlite3.connect(store / "dashboard.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM Request").fetchone() == (20,)  # this run's only
    with sqlite3.connect(store / "profiler.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM measurements").fetchone() == (0,)


def test_previous_run_is_the_newest_earlier_test_run():
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    label = runs.run_label("g1", start)
    assert label == "g1 test-run 2026-01-02T03:04:05Z" and runs.label_time(label) == start
    labels = ["g2 test-run 2026-01-02T04:00:00Z", label, "g0 test-run 2026-01-01T00:00:00Z"]
    assert runs.previous_run(labels, label) == "g0 test-run 2026-01-01T00:00:00Z"
    assert runs.previous_run([label], label) is None
    assert runs.label_time("v2") is None and runs.label_time("x test-run yesterday") is None


def test_the_session_gives_the_environment_back(monkeypatch):
    monkeypatch.setenv("FLASK_PERF_VERSION", "mine")
    monkeypatch.delenv("FLASK_PERF_STORE_DIR", raising=False)
    session = RecordedSession("v test-run 2026-01-01T00:00:00Z")
    session.set_env("FLASK_PERF_VERSION", session.label)
    session.set_env("FLASK_PERF_STORE_DIR", "/tmp/x")
    session.start()
    session.stop()
    assert os.environ["FLASK_PERF_VERSION"] == "mine" and "FLASK_PERF_STORE_DIR" not in os.environ
