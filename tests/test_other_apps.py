"""flask_perf attached to apps of other shapes (tests/other_apps/), not just the demo.

Each shape is served for real (``flask run`` on a loopback port, its own temp
instance folder, the development profile) and driven by chromium: the toolbar's
EXPLAIN shows a plan, /dashboard and /flask-profile list the app's endpoints with
the requests made to them, and ``flask perf status`` counts rows in that app's own
instance folder. In process: init_app twice is refused, routes registered after
init_app are measured, and two apps in one process keep their rows apart. A
``pytest --perf`` run of each shape's own test shows up in its store as a labelled run.
"""
import base64
import os
import re
import sqlite3
import subprocess
import time
import urllib.request
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from flask_perf import ConfigError, FlaskPerf
from flask_perf.state import is_tool_endpoint
from tests.other_apps import INSTANCE_ENV, counter, factory, late_blueprint, single_module, two_binds
from tests.other_apps.factory import seed as library_seed
from tests.support import ROOT, ServerProcess, flush_monitoring, free_port, guarded_page, venv_bin
from tests.test_browser import browser  # noqa: F401 - one chromium for the module

ARTIFACTS = ROOT / "test-artifacts" / "other_apps"
TOOL_PREFIXES = ("/_flask_perf/", "/_debug_toolbar/", "/dashboard", "/flask-profile")


@dataclass(frozen=True)
class Visit:
    path: str
    endpoint: str  # as /dashboard names it
    rule: str  # as /flask-profile names it
    times: int


@dataclass(frozen=True)
class Shape:
    app: str  # flask --app
    password: str
    setup: tuple[tuple[str, ...], ...]  # flask commands run before serving
    page: str  # an HTML page, for the toolbar
    explain: tuple[str, ...]  # tables whose EXPLAIN is clicked on that page
    visits: tuple[Visit, ...]


SHAPES = {
    "factory": Shape(
        "tests.other_apps.factory", factory.MONITOR_PASSWORD,
        (("db", "init"), ("db", "migrate", "-m", "library"), ("db", "upgrade"), ("seed",)),
        "/authors/3", ("book",),
        (Visit("/", "catalog.index", "/", 1),
         Visit("/authors/3", "catalog.author", "/authors/<int:author_id>", 2),
         Visit("/api/books?author_id=4", "api.books", "/api/books", 3),
         Visit("/api/stats", "api.stats", "/api/stats", 2),
         Visit("/login", "accounts.login", "/login", 1))),
    "single_module": Shape(
        "tests.other_apps.single_module", single_module.MONITOR_PASSWORD, (("seed",),),
        "/?tag=lost", ("note",),
        (Visit("/?tag=found", "board", "/", 2), Visit("/notes/7", "note", "/notes/<int:note_id>", 3))),
    "two_binds": Shape(
        "tests.other_apps.two_binds", two_binds.MONITOR_PASSWORD, (("seed",),),
        "/?category=toys", ("product", "page_view"),
        (Visit("/?category=tools", "category", "/", 2), Visit("/views", "views", "/views", 3))),
    "late_blueprint": Shape(
        "tests.other_apps.late_blueprint", late_blueprint.MONITOR_PASSWORD, (("seed",),),
        "/reports/", ("lesson",),
        (Visit("/", "timetable", "/", 1), Visit("/reports/", "reports.rooms", "/reports/", 2),
         Visit("/reports/subjects", "reports.subjects", "/reports/subjects", 3))),
}


def app_env(instance: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "FLASK_"))}
    env.update({INSTANCE_ENV: str(instance), "FLASK_PERF_PROFILE": "development", "PYTHONUNBUFFERED": "1"})
    return env


def flask_cli(shape: Shape, instance: Path, *args: str) -> subprocess.CompletedProcess:
    """``flask --app <shape> ARGS`` in a subprocess, as the app's developer would run it."""
    return subprocess.run([venv_bin("flask"), "--app", shape.app, *args], cwd=ROOT, env=app_env(instance),
                          capture_output=True, text=True, timeout=120)


def stored_counts(instance: Path) -> tuple[dict, dict]:
    """Requests per endpoint in the dashboard's store, per rule in flask-profiler's."""
    def read(name: str, sql: str) -> dict:
        path = instance / name
        if not path.exists():
            return {}
        with closing(sqlite3.connect(path, timeout=5)) as conn:
            try:
                return dict(conn.execute(sql).fetchall())
            except sqlite3.OperationalError:  # tables not created yet
                return {}
    return (read("dashboard.db", "SELECT e.name, COUNT(*) FROM Request r JOIN Endpoint e "
                                 "ON e.id = r.endpoint_id GROUP BY e.name"),
            read("profiler.db", "SELECT name, COUNT(*) FROM measurements GROUP BY name"))


def wait_until_stored(instance: Path, visits, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        by_endpoint, by_rule = stored_counts(instance)
        missing = [v for v in visits if by_endpoint.get(v.endpoint, 0) < v.times
                   or by_rule.get(v.rule, 0) < v.times]
        if not missing:
            return
        assert time.monotonic() < deadline, f"not stored after {timeout}s: {missing}; " \
                                            f"dashboard {by_endpoint}, flask-profiler {by_rule}"
        time.sleep(0.2)


@pytest.fixture(scope="module", params=list(SHAPES))
def served(request, tmp_path_factory):
    """The shape's app behind ``flask run``, schema and rows in place, its visits recorded."""
    shape = SHAPES[request.param]
    instance = tmp_path_factory.mktemp(f"other-{request.param}")
    for args in shape.setup:
        done = flask_cli(shape, instance, *args)
        assert done.returncode == 0, f"flask {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    port = free_port()
    proc = ServerProcess([venv_bin("flask"), "--app", shape.app, "run", "--port", str(port), "--no-reload"],
                         app_env(instance), port, instance / "serve.log")
    try:
        proc.wait_ready(shape.visits[0].path)
        for visit in shape.visits:
            for _ in range(visit.times - (visit is shape.visits[0])):
                with urllib.request.urlopen(proc.url + visit.path, timeout=10) as response:
                    assert response.status == 200
        wait_until_stored(instance, shape.visits)
        proc.name, proc.shape, proc.instance = request.param, shape, instance
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def page(browser, served, request):  # noqa: F811 - the imported fixture
    """A page of a fresh context that may reach the server only (credentials for /flask-profile)."""
    with guarded_page(browser, served.url, served.shape.password, ARTIFACTS / f"{request.node.name}.png") as page:
        yield page


@pytest.mark.browser
@pytest.mark.server
def test_toolbar_explain_shows_a_plan(page, served):
    page.goto(served.url + served.shape.page)
    page.click("a.flDebugSQLAlchemyPanel")
    window = page.locator("#flDebugWindow")
    for table in served.shape.explain:
        row = page.locator("#flDebugSQLAlchemyPanel-content tbody tr",
                           has_text=re.compile(rf"FROM\s+{table}\b")).first
        row.locator("a.flDebugRemoteCall", has_text="EXPLAIN").click()
        plan = window.get_by_text(re.compile(rf"\b(SCAN|SEARCH) {table}\b")).first
        plan.wait_for(timeout=20_000)
        page.screenshot(path=str(ARTIFACTS / f"explain-{served.name}-{table}.png"))
        window.locator("a.flDebugBack").first.click()  # back to the panel for the next table


@pytest.mark.browser
@pytest.mark.server
def test_dashboard_lists_the_endpoints(page, served):
    page.goto(served.url + "/dashboard/login")
    page.fill("input[name=name]", "admin")
    page.fill("input[name=password]", served.shape.password)
    page.click("button[name=Login]")
    page.wait_for_url("**/dashboard/overview")
    for visit in served.shape.visits:
        page.locator("tr", has_text=visit.endpoint).first.wait_for(timeout=20_000)
    overview = page.request.get(served.url + "/dashboard/api/overview").json()
    hits = {row["name"]: row["hits-overall"] for row in overview}
    for visit in served.shape.visits:
        assert hits.get(visit.endpoint, 0) >= visit.times, hits
    assert not [name for name in hits if is_tool_endpoint(name)], hits  # the app's endpoints only


@pytest.mark.browser
@pytest.mark.server
def test_flask_profile_lists_the_endpoints(page, served):
    page.goto(served.url + "/flask-profile/")
    page.wait_for_selector("#big-users-table tbody tr td.name", timeout=20_000)
    rows = {}
    for row in page.locator("#big-users-table tbody tr").all():
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        rows[cells[1]] = int(cells[2])
    for visit in served.shape.visits:
        assert rows.get(visit.rule, 0) >= visit.times, rows
    assert not [rule for rule in rows if rule.startswith(TOOL_PREFIXES)], rows  # the app's rules only


@pytest.mark.server
def test_perf_status_counts_the_apps_own_instance(served):
    done = flask_cli(served.shape, served.instance, "perf", "status")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "profile: development" in out
    stores = re.findall(r"^(\S.*?)\s+\[ ?on\] (\S+)$", out, re.M)
    assert stores and all(str(served.instance) in url for _, url in stores), out
    requests = int(re.search(r"\bRequest: (\d+)", out).group(1))
    measurements = int(re.search(r"\bmeasurements: (\d+)", out).group(1))
    assert requests >= sum(v.times for v in served.shape.visits), out
    assert measurements >= sum(v.times for v in served.shape.visits), out


@pytest.mark.browser
@pytest.mark.server
@pytest.mark.parametrize("served", ["factory"], indirect=True)
def test_factory_members_still_sign_in(page, served):
    """Flask-Login's login_required still guards a view the tools wrapped."""
    page.goto(served.url + "/account")
    page.wait_for_url("**/login?next=*")
    page.fill("input[name=email]", library_seed.MEMBER_EMAIL)
    page.fill("input[name=password]", library_seed.MEMBER_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/account")
    assert page.locator("#loans li").count() == 3


@pytest.mark.server
@pytest.mark.parametrize("served", ["factory"], indirect=True)
def test_factory_migrations_hold_only_the_apps_tables(served):
    """`flask db migrate` saw the app's tables only; `flask db upgrade` and `check` still work."""
    (script,) = (served.instance / "migrations" / "versions").glob("*.py")
    upgrade = script.read_text().partition("def downgrade")[0]
    assert set(re.findall(r"op\.create_table\('(\w+)'", upgrade)) == {"author", "book", "member", "loan"}
    assert "drop_table" not in upgrade  # nothing of flask_perf's in the app's database
    for args in (("db", "upgrade"), ("db", "check")):
        done = flask_cli(served.shape, served.instance, *args)
        assert done.returncode == 0, f"flask {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


APPS_TEST = """
import importlib

def test_the_pages_answer():
    module = importlib.import_module({module!r})
    app = module.app if hasattr(module, "app") else module.create_app()
    client = app.test_client()
    for path in {paths!r}:
        assert client.get(path).status_code == 200
"""


@pytest.mark.server
def test_a_pytest_perf_run_of_the_apps_own_tests_is_a_labelled_run(served, tmp_path):
    """The user's suite, run with ``--perf``: its test-client requests land in the store as
    ``<version> test-run <time>``, and the run's summary names the app's endpoints."""
    shape = served.shape
    paths = [visit.path for visit in shape.visits]
    (tmp_path / "test_pages.py").write_text(APPS_TEST.format(module=shape.app, paths=paths))
    env = {**app_env(served.instance), "PYTHONPATH": str(ROOT), "FLASK_PERF_VERSION": "shape-v1"}
    env.pop("FLASK_PERF_PROFILE", None)  # the plugin picks "testing" for apps that choose none
    run = subprocess.run([venv_bin("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--perf",
                          "--perf-store-dir", str(tmp_path / "store"), "test_pages.py"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "flask_perf" in run.stdout and shape.visits[0].endpoint in run.stdout
    with closing(sqlite3.connect(tmp_path / "store" / "dashboard.db")) as conn:
        labels = dict(conn.execute("SELECT version_requested, COUNT(*) FROM Request GROUP BY 1"))
    assert list(labels) == [next(iter(labels))] and re.fullmatch(
        r"shape-v1 test-run \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", next(iter(labels)))
    assert sum(labels.values()) == len(paths)


def test_init_app_twice_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_PERF_PROFILE", raising=False)
    app = counter.make_app(str(tmp_path), "twice")
    views = dict(app.view_functions)
    with pytest.raises(ConfigError, match=r"already attached to 'twice': call init_app once per app"):
        FlaskPerf().init_app(app)
    assert app.view_functions == views  # nothing wrapped a second time


def test_routes_registered_after_init_app_are_measured(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASK_PERF_PROFILE", "testing")
    app = late_blueprint.create_app(str(tmp_path))
    app.add_url_rule("/later", view_func=lambda: "later", endpoint="later")  # no blueprint at all
    with app.app_context():
        late_blueprint.seed()
    client = app.test_client()
    for path in ("/", "/reports/", "/reports/subjects", "/later"):
        assert client.get(path).status_code == 200
    flush_monitoring(app)
    by_endpoint, by_rule = stored_counts(tmp_path)
    endpoints = ("timetable", "reports.rooms", "reports.subjects", "later")
    assert {name: by_endpoint.get(name) for name in endpoints} == dict.fromkeys(endpoints, 1)
    assert by_rule == {"/": 1, "/reports/": 1, "/reports/subjects": 1, "/later": 1}


def test_two_apps_in_one_process_keep_separate_stores(tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_PERF_PROFILE", raising=False)
    north = counter.make_app(str(tmp_path / "north"), "north")
    south = counter.make_app(str(tmp_path / "south"), "south")
    for app, pages in ((north, ("a", "b", "b")), (south, ("c",))):
        client = app.test_client()
        for name in pages:
            assert client.get(f"/{name}").json["app"] == app.name
    assert north.extensions["flask_perf"].flush() and south.extensions["flask_perf"].flush()

    def stored(app) -> tuple[int, list]:
        instance = Path(app.instance_path)
        with closing(sqlite3.connect(instance / "profiler.db")) as conn:
            profiled = conn.execute("SELECT COUNT(*) FROM measurements").fetchone()[0]
        with closing(sqlite3.connect(instance / "slow_queries.db")) as conn:
            paths = sorted({row[0] for row in conn.execute("SELECT path FROM slow_query")})
        return profiled, paths

    assert stored(north) == (3, ["/a", "/b"])
    assert stored(south) == (1, ["/c"])
    auth = {"Authorization": "Basic " + base64.b64encode(f"admin:{counter.MONITOR_PASSWORD}".encode()).decode()}
    for app, count in ((north, 3), (south, 1)):  # and each /flask-profile reads its own store
        summary = app.test_client().get("/flask-profile/api/measurements/grouped", headers=auth).json
        assert [(row["name"], row["count"]) for row in summary["measurements"]] == [("/<page>", count)]
