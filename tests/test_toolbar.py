"""The toolbar's SQL panel: EXPLAIN and SELECT work on SQLite and MariaDB with SQLAlchemy 2."""
import html
import re

import pytest
from flask_perf.toolbar.panels import query_serializer

from webapp.extensions import db
from tests.conftest import SMALL

MY_CLASS_SQL = {
    "sqlite": ("SELECT classes.id, classes.name FROM classes JOIN student_identifier ON "
               "student_identifier.class_id = classes.id WHERE student_identifier.student_id = ? "
               "ORDER BY classes.name", [[5]]),
    "mariadb": ("SELECT classes.id, classes.name FROM classes JOIN student_identifier ON "
                "student_identifier.class_id = classes.id WHERE student_identifier.student_id = "
                "%(student_id_1)s ORDER BY classes.name", [{"student_id_1": 5}]),
}
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
LOCAL = {"REMOTE_ADDR": "127.0.0.1", "HTTP_ACCEPT": BROWSER_ACCEPT}


@pytest.fixture
def dev_app(app, make_app, backend, tmp_path):
    """The seeded database of ``app``, in a development app (toolbar on)."""
    dev = make_app("development", SQLALCHEMY_DATABASE_URI=backend[1], TESTING=True,
                   PERF_STORE_DIR=str(tmp_path / "mon"))
    yield dev
    with dev.app_context():
        db.engine.dispose()


def _link(app, statement, params, explain=True):
    with app.test_request_context():
        signed = query_serializer().dumps([statement, params])  # what the panel signs with
    view = "sql_explain" if explain else "sql_select"
    return f"/_debug_toolbar/views/sqlalchemy/{view}?query={signed}&duration=0.01"


def _text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def test_explain_shows_the_full_scan(dev_app, backend):
    statement, params = MY_CLASS_SQL[backend[0]]
    client = dev_app.test_client()
    response = client.post(_link(dev_app, statement, params), environ_base=LOCAL)
    assert response.status_code == 200
    text = _text(response)
    if backend[0] == "sqlite":
        assert "EXPLAIN QUERY PLAN" in text and "SCAN student_identifier" in text
    else:
        cells = [c.strip() for c in re.findall(r"<td>(.*?)</td>", response.get_data(as_text=True), re.S)]
        row = cells[cells.index("student_identifier") - 2: cells.index("student_identifier") + 8]
        assert "ALL" in row  # type = ALL: no index can be used
        assert "EXPLAIN" in text


def test_select_reruns_the_query(dev_app, backend):
    statement, params = MY_CLASS_SQL[backend[0]]
    response = dev_app.test_client().get(_link(dev_app, statement, params, explain=False),
                                         environ_base=LOCAL)
    assert response.status_code == 200
    with dev_app.app_context():
        names = [c.name for c in db.session.get(__import__("webapp.models").models.Student, 5).classes]
    text = _text(response)
    assert all(name in text for name in names)


def test_the_panel_links_work_from_a_real_page(dev_app):
    client = dev_app.test_client()
    page = client.get("/my_class?student_id=5", environ_base=LOCAL).get_data(as_text=True)
    links = [html.unescape(l) for l in re.findall(r'href="(/_debug_toolbar/views/sqlalchemy/sql_explain[^"]+)"', page)]
    assert links, "the SQLAlchemy panel offers no EXPLAIN link"
    plans = [_text(client.post(link, environ_base=LOCAL)) for link in links]
    assert any("student_identifier" in plan for plan in plans)


def test_the_panel_lists_the_apps_statements_not_our_explains(dev_app):
    """The verdict under each SELECT runs EXPLAIN on a connection of its own: not listed."""
    page = dev_app.test_client().get("/my_class?student_id=5", environ_base=LOCAL).get_data(as_text=True)
    assert "2 queries" in page  # the student lookup and the join, as the view runs them
    assert "EXPLAIN" not in page.split("flDebugSQLAlchemyPanel")[-1].split("flDebugPanel")[0]
    assert "query_only" not in page


def test_non_select_and_tampered_links_get_a_clear_message(dev_app):
    client = dev_app.test_client()
    delete = client.post(_link(dev_app, "DELETE FROM students", []), environ_base=LOCAL)
    assert delete.status_code == 400 and "only a single SELECT" in _text(delete)
    piggyback = client.post(_link(dev_app, "SELECT 1; DROP TABLE students", []), environ_base=LOCAL)
    assert piggyback.status_code == 400
    tampered = client.post("/_debug_toolbar/views/sqlalchemy/sql_explain?query=.abc.def&duration=1",
                           environ_base=LOCAL)
    assert tampered.status_code == 400 and "not signed by this app" in _text(tampered)
    with dev_app.app_context():
        assert db.session.execute(db.text("SELECT COUNT(*) FROM students")).scalar_one() == SMALL.students


def test_toolbar_only_for_allowed_hosts(dev_app):
    client = dev_app.test_client()
    local = client.get("/my_class?student_id=5", environ_base=LOCAL).get_data(as_text=True)
    remote = client.get("/my_class?student_id=5", environ_base={**LOCAL, "REMOTE_ADDR": "10.1.2.3"})
    assert "flDebugToolbar" in local
    assert "flDebug" not in remote.get_data(as_text=True)


def test_config_panel_hides_secrets(dev_app):
    dev_app.config["SQLALCHEMY_BINDS"] = {"replica": "mysql+pymysql://app:hunter2@db.example/x"}
    dev_app.config["PERF_DASHBOARD_DATABASE_URL"] = "mysql+pymysql://mon:s3cr3tpw@db.example/mon"
    page = dev_app.test_client().get("/my_class?student_id=5", environ_base=LOCAL).get_data(as_text=True)
    assert dev_app.config["SECRET_KEY"] not in page
    assert dev_app.extensions["flask_perf"].credentials.password_hash not in page
    assert "s3cr3tpw" not in page
    assert "mon:***@db.example" in page


def test_toolbar_stays_off_the_dashboards(dev_app):
    client = dev_app.test_client()
    login = client.get("/dashboard/login", environ_base=LOCAL)
    assert login.status_code == 200 and "flDebug" not in login.get_data(as_text=True)


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_scripted_clients_do_not_pay_for_the_toolbar(dev_app, accept):
    environ = {"REMOTE_ADDR": "127.0.0.1", **({"HTTP_ACCEPT": accept} if accept else {})}
    page = dev_app.test_client().get("/my_class?student_id=5", environ_base=environ)
    assert page.status_code == 200 and "roster?class_id=" in page.get_data(as_text=True)
    assert "flDebug" not in page.get_data(as_text=True)


def test_api_clients_get_no_toolbar_work_but_every_statement_kept(dev_app):
    """No panel runs for an API client: its statements are kept for the N+1 check without
    their line of app code, no toolbar is built for it, and g.debug_toolbar is still set."""
    from flask import g

    from flask_perf.sql.recording import recorded_queries

    toolbar, seen = dev_app.extensions["flask_perf"].toolbar, {}

    @dev_app.after_request
    def look(response):
        seen.update(queries=list(recorded_queries()), toolbar=g.get("debug_toolbar"),
                    built=request_has_toolbar(toolbar))
        return response

    for environ, located in (({"REMOTE_ADDR": "127.0.0.1"}, False), (LOCAL, True)):
        assert dev_app.test_client().get("/my_class?student_id=5", environ_base=environ).status_code == 200
        assert seen["toolbar"] is toolbar and seen["built"] is located
        assert len(seen["queries"]) >= 2 and all(bool(q.location) is located for q in seen["queries"])
        assert all(q.statement and q.end_time >= q.start_time and q.engine is not None for q in seen["queries"])


def request_has_toolbar(toolbar) -> bool:
    from flask import request

    return request._get_current_object() in toolbar.debug_toolbars_var.get({})


def test_profiler_panel_shows_the_top_functions(dev_app):
    dev_app.config["PERF_TOOLBAR_PROFILER_ROWS"] = 5
    page = dev_app.test_client().get("/my_class?student_id=5", environ_base=LOCAL).get_data(as_text=True)
    assert re.search(r"Top 5 of \d{2,} functions by cumulative time", page)
    panel = page[page.index("flask-perf-profiler-note"):]
    assert len(re.findall(r"<tr", panel.split("</table>")[0])) == 5 + 1  # header row


def test_versions_panel_is_rendered_once_per_process(dev_app, monkeypatch):
    import importlib.metadata
    client = dev_app.test_client()
    first = client.get("/my_class?student_id=5", environ_base=LOCAL).get_data(as_text=True)
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: (_ for _ in ()).throw(AssertionError))
    second = client.get("/my_class?student_id=6", environ_base=LOCAL).get_data(as_text=True)
    assert "Flask-SQLAlchemy" in first and "Flask-SQLAlchemy" in second
