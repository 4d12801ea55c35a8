"""The three used-by paths in a real browser against a real server, offline.

Debian's chromium driven by Playwright (``executable_path``; no browser download).
Every request the pages make to anything but the server is aborted and reported:
the dashboards must work on a machine without internet. Screenshots go to
``test-artifacts/browser/``.
"""
import json
import os
import shutil
import urllib.request

import pytest

from tests.support import ROOT, development_server, guarded_page

pytestmark = [pytest.mark.browser, pytest.mark.server]
PASSWORD = "browser-test-pw-81"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]
ROSTER_HITS = 3


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (make test installs it)")
        pytest.skip("chromium is not installed (run `make test`)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def server(request, tmp_path_factory):
    """A development-profile server (every tool on) with traffic already recorded."""
    instance = tmp_path_factory.mktemp(f"browser-{request.param}")
    extra = {"APP_PERF_MONITOR_PASSWORD": PASSWORD}
    if request.param == "mariadb":
        extra["APP_SQLALCHEMY_DATABASE_URI"] = request.getfixturevalue("mariadb_database")()
    with development_server(instance, ("--students", "500", "--classes", "40", "--per-student", "4"),
                            **extra) as proc:
        for class_id in range(1, ROSTER_HITS + 1):
            with urllib.request.urlopen(f"{proc.url}/roster?class_id={class_id}") as response:
                assert json.load(response)["students"]
        proc.backend = request.param
        yield proc


@pytest.fixture
def page(browser, server, request):
    with guarded_page(browser, server.url, PASSWORD, ARTIFACTS / f"{request.node.name}.png") as page:
        yield page


def test_dashboard_overview_and_chart_render(page, server):
    page.goto(server.url + "/dashboard/login")
    page.fill("input[name=name]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[name=Login]")
    page.wait_for_url("**/dashboard/overview")
    row = page.locator("tr", has_text="school.roster").first
    row.wait_for(timeout=20_000)
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert str(ROSTER_HITS) in cells, cells  # hits rendered by AngularJS, not just in the API
    page.screenshot(path=str(ARTIFACTS.parent / "browser" / f"dashboard-overview-{server.backend}.png"))
    page.goto(server.url + "/dashboard/api_performance")
    page.wait_for_selector("#chart .main-svg", timeout=20_000)  # Plotly drew the box plot
    assert page.locator("#chart .boxlayer, #chart .trace").count() > 0


def test_flask_profile_lists_the_requests(page, server):
    page.goto(server.url + "/flask-profile/")
    page.wait_for_selector("#big-users-table tbody tr td.name", timeout=20_000)
    row = page.locator("#big-users-table tbody tr", has_text="/roster").first
    assert str(ROSTER_HITS) in row.inner_text()


def test_toolbar_explain_shows_the_plan(page, server):
    page.goto(server.url + "/my_class?student_id=1")
    page.click("a.flDebugSQLAlchemyPanel")
    explain = page.locator("#flDebugSQLAlchemyPanel-content a:text('EXPLAIN'), "
                           "a.flDebugRemoteCall:text('EXPLAIN')").last
    explain.click()
    window = page.locator("#flDebugWindow")
    window.get_by_text("student_identifier").first.wait_for(timeout=20_000)
    text = window.inner_text()
    if server.backend == "sqlite":
        assert "SCAN student_identifier" in text
    else:
        assert "ALL" in text and "student_identifier" in text
