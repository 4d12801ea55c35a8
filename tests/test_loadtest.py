"""``flask perf loadtest``: real Locust runs against a real gunicorn, counts cross-checked.

The demo (``flask --app wsgi``, its locustfile from PERF_LOADTEST_LOCUSTFILE) and a
bookshop that has no locustfile (``tests/apps/loadtest_app.py``, the default scenario).
"""
import json
import os
import sqlite3
import subprocess
import sys
import time
import types
from datetime import datetime, timedelta, timezone

import click
import pytest
from flask import Flask
from flask.cli import ScriptInfo

from flask_perf.loadtest.app_import import current_app_import
from flask_perf.loadtest.locustfiles import declared_scenarios
from flask_perf.loadtest.results import dashboard_count
from flask_perf.loadtest.routes import default_paths
from flask_perf.stores.pruner import MARKER
from benchmarks.history_store import default_urls, grow
from tests.support import ROOT, run_flask, venv_bin

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    path = tmp_path_factory.mktemp("loadtest")
    seeded = run_flask(path, "testing", "seed", "--students", "300", "--classes", "30",
                       "--per-student", "3")
    assert seeded.returncode == 0, seeded.stderr
    # Months-old history, and a pruning just done: the server's own pruner is not due, so
    # only the end of a run can remove these (test_the_end_of_a_run_prunes_old_history).
    grow(default_urls(str(path)), requests=300, days=60, now=datetime.now(timezone.utc) - timedelta(days=40))
    (path / MARKER).touch()
    return path


def only_run(instance, before):
    runs = sorted(set(os.listdir(instance / "loadtests")) - before)
    assert len(runs) == 1
    return instance / "loadtests" / runs[0]


def existing(instance):
    root = instance / "loadtests"
    return set(os.listdir(root)) if root.exists() else set()


def test_short_run_records_every_request(instance):
    before = existing(instance)
    result = run_flask(instance, "testing", "perf", "loadtest", "--profile", "testing", "--users", "4",
                       "--duration", "20s", "--max-requests", "300")
    assert result.returncode == 0, result.stdout + result.stderr
    folder = only_run(instance, before)
    for name in ("summary.json", "locust_stats.csv", "locust_failures.csv", "server.log"):
        assert (folder / name).is_file(), name
    summary = json.loads((folder / "summary.json").read_text())
    total = summary["locust"]["total"]
    assert 300 <= total["requests"] < 400  # bounded by --max-requests
    assert sum(e["requests"] for e in summary["locust"]["endpoints"]) == total["requests"]
    assert total["failures"] == 0  # bad ids answered as expected count apart, not as failures
    names = {e["name"] for e in summary["locust"]["endpoints"]}
    assert {"/roster", "/my_class"} <= names
    assert summary["recorded"] == {"dashboard": total["requests"], "flask_profiler": total["requests"]}
    assert summary["nothing_lost"] is True and summary["profile"] == "testing"
    assert summary["app_version"]
    csv_total = (folder / "locust_stats.csv").read_text().splitlines()[-1].split(",")
    assert csv_total[1] == "Aggregated" and int(csv_total[2]) == total["requests"]
    assert "recorded by dashboard" in result.stdout and "[ok]" in result.stdout
    assert "requests" in result.stdout and "req/s" in result.stdout  # progress lines
    listing = run_flask(instance, "testing", "perf", "loadtest", "list")
    assert listing.returncode == 0 and summary["run_id"].removeprefix("loadtest-") in listing.stdout


def test_the_end_of_a_run_prunes_old_history(instance):
    if not existing(instance):  # run alone: one short run of its own
        result = run_flask(instance, "testing", "perf", "loadtest", "--profile", "testing", "--users", "2",
                           "--duration", "5s", "--max-requests", "20")
        assert result.returncode == 0, result.stdout + result.stderr
    month_ago = (datetime.now(timezone.utc) - timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S")
    with sqlite3.connect(instance / "dashboard.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM Request WHERE time_requested < ?", (month_ago,)).fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM Request").fetchone()[0] > 0  # the runs' requests stay
    with sqlite3.connect(instance / "profiler.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM measurements WHERE started_at < ?",
                            (time.time() - 30 * 86400,)).fetchone() == (0,)


def test_master_worker_mode_merges_stats(instance):
    before = existing(instance)
    result = run_flask(instance, "testing", "perf", "loadtest", "--profile", "testing", "--users", "4",
                       "--workers", "2", "--duration", "6s")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((only_run(instance, before) / "summary.json").read_text())
    assert summary["workers"] == 2
    total = summary["locust"]["total"]["requests"]
    assert total > 0 and summary["recorded"]["dashboard"] == total
    assert summary["recorded"]["flask_profiler"] == total


@pytest.mark.parametrize("args, message", [
    (["--users", "-3"], "'--users': -3 is not in the range"),
    (["--duration", "soon"], "'soon' is not a duration"),
    (["--duration", "0s"], "must be longer than 0s"),
    (["--url", "http://10.0.0.1:5000"], "not a loopback address; pass --allow-remote"),
    (["--url", "ftp://127.0.0.1/"], "is not an http(s) URL"),
    (["--scenario", "nope"], "'nope' is not one of"),
    (["--locustfile", "no/such/locustfile.py"], "'no/such/locustfile.py' does not exist"),
])
def test_bad_options_exit_2(instance, args, message):
    before = existing(instance)
    result = run_flask(instance, "testing", "perf", "loadtest", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert existing(instance) == before


def test_started_server_runs_the_requested_profile(instance):
    """--profile bare beats the caller's APP_PROFILE=testing: the server records nothing."""
    before = existing(instance)
    result = run_flask(instance, "testing", "perf", "loadtest", "--profile", "bare", "--users", "2",
                       "--duration", "10s", "--max-requests", "40", "--scenario", "roster")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((only_run(instance, before) / "summary.json").read_text())
    assert summary["profile"] == "bare" and summary["recorded"] == {}
    assert summary["locust"]["total"]["requests"] >= 40
    assert {e["name"] for e in summary["locust"]["endpoints"]} == {"/roster"}
    assert not dashboard_count(f"sqlite:///{instance / 'dashboard.db'}", summary["run_id"])


def test_declared_scenarios_match_what_the_locust_process_runs():
    """The CLI reads scenario names from the syntax tree; Locust's process imports the file."""
    locustfile = str(ROOT / "webapp" / "locustfile.py")
    code = ("from gevent import monkey; monkey.patch_all(); import json, sys; "
            "from flask_perf.loadtest.users import load_locustfile, pick_users; "
            "m = load_locustfile(sys.argv[1]); "
            "print(json.dumps([sorted(m.SCENARIOS), [u.__name__ for u in pick_users(m, None)], "
            "[u.__name__ for u in pick_users(m, 'readwrite')]]))")
    out = subprocess.run([sys.executable, "-c", code, locustfile], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    names, default, readwrite = json.loads(out.stdout)
    assert names == sorted(declared_scenarios(locustfile))
    assert default == ["SchoolUser"] and readwrite == ["ReadingUser", "EnrollingUser"]


# --- any app: the bookshop in tests/apps/, which has no locustfile -------------------------

BOOKSHOP = "tests/apps/loadtest_app.py"


def run_bookshop(instance, *args: str) -> subprocess.CompletedProcess:
    """``flask --app tests/apps/loadtest_app.py ARGS`` as its user would run it (flask_perf
    importable as if installed; none of the demo's APP_* variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "FLASK_"))}
    env.update(LOADTEST_APP_INSTANCE=str(instance), PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return subprocess.run([venv_bin("flask"), "--app", BOOKSHOP, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_default_scenario_requests_every_parameterless_get_route(tmp_path):
    result = run_bookshop(tmp_path, "perf", "loadtest", "--profile", "testing", "--users", "3",
                          "--duration", "15s", "--max-requests", "120")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "gunicorn -w 2 loadtest_app:app, profile testing" in result.stdout
    summary = json.loads((only_run(tmp_path, set()) / "summary.json").read_text())
    endpoints = {e["name"]: e for e in summary["locust"]["endpoints"]}
    assert set(endpoints) == {"/", "/books"}  # no parameter, not excluded, not a tool's route
    total = summary["locust"]["total"]
    assert total["requests"] >= 120 and total["failures"] == 0
    assert all(e["requests"] >= total["requests"] // 2 - 3 for e in endpoints.values())  # in turn
    assert summary["recorded"] == {"dashboard": total["requests"], "flask_profiler": total["requests"]}
    assert summary["nothing_lost"] is True and summary["locustfile"] is None


def test_locustfile_option_runs_the_apps_own_user_class(tmp_path):
    locustfile = tmp_path / "shop_users.py"
    locustfile.write_text(
        "import os\nfrom locust import HttpUser, task\n\n"
        "class Browser(HttpUser):\n    @task\n    def home(self):\n        self.client.get('/')\n\n"
        "class BookReader(HttpUser):\n    def on_start(self):\n"
        "        self.client.headers['X-Loadtest-Run'] = os.environ['LOADTEST_RUN']\n\n"
        "    @task\n    def book(self):\n        self.client.get('/books/2', name='/books/[id]')\n")
    result = run_bookshop(tmp_path, "perf", "loadtest", "--profile", "production", "--users", "2",
                          "--duration", "10s", "--max-requests", "50", "--locustfile", str(locustfile),
                          "--scenario", "BookReader")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((only_run(tmp_path, set()) / "summary.json").read_text())
    assert [e["name"] for e in summary["locust"]["endpoints"]] == ["/books/[id]"]
    assert summary["recorded"] == {"dashboard": summary["locust"]["total"]["requests"]}


@pytest.mark.parametrize("args, message", [
    (["--locustfile", "missing_users.py"], "'missing_users.py' does not exist"),
    (["--scenario", "Browser"], "the default scenario has no named scenarios"),
])
def test_bookshop_bad_locust_options_exit_2(tmp_path, args, message):
    result = run_bookshop(tmp_path, "perf", "loadtest", "--profile", "testing", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "loadtests").exists()


def test_broken_locustfile_stops_with_its_error(tmp_path):
    locustfile = tmp_path / "broken_users.py"
    locustfile.write_text("raise RuntimeError('the users are not ready')\n")
    result = run_bookshop(tmp_path, "perf", "loadtest", "--profile", "bare", "--duration", "5s",
                          "--locustfile", str(locustfile))
    assert result.returncode == 1
    assert "Locust failed" in result.stderr and "the users are not ready" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_without_data_stops_before_starting(tmp_path):
    """The demo's own check, through PerfState.add_loadtest_env: a clear line, no run."""
    result = run_flask(tmp_path, "testing", "perf", "loadtest", "--duration", "2s")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "the app's load-test setup (loadtest_env): (sqlite3.OperationalError) no such table" \
        in result.stderr
    assert not (tmp_path / "loadtests").exists()


def test_default_paths_skip_parameters_other_methods_tools_and_exclusions():
    app = Flask("shop")
    app.config["PERF_LOADTEST_EXCLUDE"] = "admin, /internal"  # as APP_PERF_LOADTEST_EXCLUDE gives it
    for rule, endpoint, methods in [
            ("/", "home", ["GET"]), ("/a/", "a", ["GET", "POST"]), ("/b/<int:n>", "b", ["GET"]),
            ("/orders", "orders", ["POST"]), ("/admin", "admin", ["GET"]),
            ("/admin/users", "admin.users", ["GET"]), ("/internal/x", "x", ["GET"]),
            ("/dashboard/overview", "dashboard.overview", ["GET"])]:
        app.add_url_rule(rule, endpoint, lambda **kw: "", methods=methods)
    assert default_paths(app) == ["/", "/a/"]


@pytest.fixture
def fake_module(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))  # prepare_import adds folders

    def install(name: str, **attrs) -> types.ModuleType:
        module = types.ModuleType(name)
        vars(module).update(attrs)
        monkeypatch.setitem(sys.modules, name, module)
        return module
    return install


def create_app():
    return Flask("made")


@pytest.mark.parametrize("import_path, gunicorn_app", [
    ("shop_mod", "shop_mod:application"), ("shop_mod:application", "shop_mod:application"),
    ("shop_mod:create_app", "shop_mod:create_app()"),
    ("shop_mod:create_app('x', debug=True)", "shop_mod:create_app('x', debug=True)"),
    ("shop_factory", "shop_factory:create_app()"),
])
def test_flask_app_argument_becomes_gunicorn_app(fake_module, import_path, gunicorn_app):
    app = Flask("shop")
    fake_module("shop_mod", application=app, create_app=create_app)
    fake_module("shop_factory", create_app=create_app)
    with click.Context(click.Command("loadtest"), obj=ScriptInfo(app_import_path=import_path)):
        target = current_app_import(app)
    assert target.gunicorn_app == gunicorn_app and target.flask_app == import_path
    assert target.pythonpath == os.getcwd()


def test_app_file_path_is_imported_from_its_folder(fake_module, tmp_path, monkeypatch):
    app = Flask("shop")
    fake_module("shop_file", app=app)
    monkeypatch.setenv("FLASK_APP", f"{tmp_path}/shop_file.py")  # no --app: FLASK_APP counts
    with click.Context(click.Command("loadtest"), obj=ScriptInfo()):
        target = current_app_import(app)
    assert (target.gunicorn_app, target.pythonpath) == ("shop_file:app", str(tmp_path))


def test_unknown_app_import_is_a_click_error(tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_APP", raising=False)
    monkeypatch.chdir(tmp_path)  # no wsgi.py, no app.py
    with click.Context(click.Command("loadtest"), obj=ScriptInfo()):
        with pytest.raises(click.ClickException, match="cannot tell which app to serve"):
            current_app_import(Flask("shop"))
