"""``flask report``: per-version statistics, the regression gate, the HTML page."""
import html.parser
import random
import sqlite3
from datetime import datetime, timezone

import pytest
from sqlalchemy import column, insert, table

from flask_perf.dashboard.rollups import SOURCE
from flask_perf.report.data import percentile
from flask_perf.stores.engines import store_engine
from tests.support import flush_monitoring


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app("testing", PERF_STORE_DIR=str(tmp_path / "mon"))
    app.test_client().get("/")  # creates the endpoints in the dashboard store
    flush_monitoring(app)
    return app


def add_requests(tmp_path, version, endpoint, durations, status=200):
    """Request rows as the dashboard's writer stores them: inserted and rolled up together."""
    with sqlite3.connect(tmp_path / "mon" / "dashboard.db") as conn:
        endpoint_id = conn.execute("SELECT id FROM Endpoint WHERE name = ?", (endpoint,)).fetchone()[0]
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = [{"endpoint_id": endpoint_id, "duration": d, "time_requested": now, "version_requested": version,
             "group_by": "None", "ip": "127.0.0.1", "status_code": status} for d in durations]
    engine = store_engine(f"sqlite:///{tmp_path / 'mon' / 'dashboard.db'}")
    with engine.begin() as conn:
        conn.execute(insert(table("Request", *(column(name) for name in rows[0]))), rows)
        SOURCE(conn, rows)
    engine.dispose()


def synthetic(tmp_path, slow_factor):
    rng = random.Random(3)
    for endpoint in ("school.roster", "school.my_class"):
        add_requests(tmp_path, "v1", endpoint, [rng.uniform(10, 20) for _ in range(200)])
        factor = slow_factor if endpoint == "school.roster" else 1.0
        add_requests(tmp_path, "v2", endpoint, [rng.uniform(10, 20) * factor for _ in range(200)])
    add_requests(tmp_path, "v2", "school.my_class", [15.0] * 10, status=500)


def test_percentiles():
    values = sorted(range(1, 101))
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50, 95, 99)


def test_gate_passes_when_p95_holds(app, tmp_path):
    synthetic(tmp_path, slow_factor=1.05)
    result = app.test_cli_runner().invoke(args=["perf", "report", "--version", "v2", "--against", "v1",
                                                "--fail-over", "20"])
    assert result.exit_code == 0, result.output
    assert "== v2 against v1 (p95)" in result.output and "school.roster" in result.output


def test_gate_fails_on_a_p95_regression(app, tmp_path):
    synthetic(tmp_path, slow_factor=2.0)
    result = app.test_cli_runner().invoke(args=["perf", "report", "--version", "v2", "--against", "v1",
                                                "--fail-over", "20"])
    assert result.exit_code == 1
    assert "REGRESSION school.roster: p95 +" in result.output
    assert "REGRESSION school.my_class" not in result.output


def test_gate_without_versions_compares_the_newest_with_the_previous(app, tmp_path):
    synthetic(tmp_path, slow_factor=2.0)  # v2 is recorded after v1
    result = app.test_cli_runner().invoke(args=["perf", "report", "--fail-over", "20"])
    assert result.exit_code == 1, result.output
    assert "== v2 against v1 (p95)" in result.output
    assert "REGRESSION school.roster: p95 +" in result.output
    assert "REGRESSION school.my_class" not in result.output


def test_gate_without_versions_passes_when_the_newest_holds(app, tmp_path):
    synthetic(tmp_path, slow_factor=1.05)
    result = app.test_cli_runner().invoke(args=["perf", "report", "--fail-over", "20"])
    assert result.exit_code == 0, result.output
    assert "== v2 against v1 (p95)" in result.output and "REGRESSION" not in result.output


def test_gate_refuses_when_there_is_nothing_to_compare(app, tmp_path):
    # the fixture's one request: a single version in the store
    result = app.test_cli_runner().invoke(args=["perf", "report", "--fail-over", "20"])
    assert result.exit_code == 2 and "holds 1 version(s)" in result.output, result.output
    assert "Traceback" not in result.output
    add_requests(tmp_path, "v1", "school.roster", [10.0] * 5)  # no endpoint in common with v2
    add_requests(tmp_path, "v2", "school.my_class", [10.0] * 5)
    result = app.test_cli_runner().invoke(args=["perf", "report", "--version", "v2", "--against", "v1",
                                                "--fail-over", "20"])
    assert result.exit_code == 1 and "nothing to compare" in result.output, result.output


def test_gate_needs_both_versions_or_neither(app, tmp_path):
    synthetic(tmp_path, 1.0)
    result = app.test_cli_runner().invoke(args=["perf", "report", "--version", "v2", "--fail-over", "20"])
    assert result.exit_code == 2 and "--fail-over takes both or neither" in result.output


def test_unknown_version_is_a_clear_error(app, tmp_path):
    synthetic(tmp_path, 1.0)
    result = app.test_cli_runner().invoke(args=["perf", "report", "--version", "v9", "--against", "v1"])
    assert result.exit_code == 2 and "no requests recorded for version 'v9'" in result.output


class Parsed(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text, self.external = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href") and value and value.startswith(("http:", "https:", "//")):
                self.external.append(value)

    def handle_data(self, data):
        self.text.append(data)


def test_html_report_is_self_contained_with_charts(app, tmp_path):
    synthetic(tmp_path, 1.5)
    out = tmp_path / "report.html"
    result = app.test_cli_runner().invoke(args=["perf", "report", "--version", "v2", "--against", "v1",
                                                "--html", str(out)])
    assert result.exit_code == 0, result.output
    page = Parsed()
    page.feed(out.read_text())
    assert page.external == [] and "script" not in page.tags
    assert page.tags.count("svg") == 2  # one chart per endpoint
    assert page.tags.count("rect") == 4  # one box per version
    text = " ".join(page.text)
    assert "school.roster" in text and "4.8%" in text  # my_class v2: 10 of 210 answered 500
