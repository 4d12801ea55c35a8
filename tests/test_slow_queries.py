"""The slow-query log: logger records and stored rows over the threshold, none under it."""
import logging
import sqlite3

import pytest

from tests.conftest import SMALL
from tests.support import flush_monitoring
from webapp.seed import seed


@pytest.fixture
def build(make_app, tmp_path):
    def factory(threshold_ms):
        app = make_app("testing", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_SLOW_QUERY_MS=threshold_ms,
                       SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}")
        with app.app_context():
            seed(SMALL, reset=True)
        return app
    return factory


def stored(tmp_path):
    with sqlite3.connect(tmp_path / "mon" / "slow_queries.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM slow_query ORDER BY id")]


def test_threshold_zero_logs_and_stores_every_query(build, tmp_path, caplog):
    app = build(0)
    with caplog.at_level(logging.WARNING, logger="flask_perf.slow_queries"):
        assert app.test_client().get("/roster?class_id=3").status_code == 200
    flush_monitoring(app)
    messages = [r.getMessage() for r in caplog.records if r.name == "flask_perf.slow_queries"]
    assert len(messages) == 2  # the class lookup and the roster join
    assert any("student_identifier" in m and "school.roster" in m and "parameters=" in m for m in messages)
    rows = stored(tmp_path)
    assert len(rows) == 2
    join = next(r for r in rows if "student_identifier" in r["statement"])
    assert join["endpoint"] == "school.roster" and join["dialect"] == "sqlite"
    assert join["path"] == "/roster" and join["duration_ms"] >= 0
    assert join["parameters"] == "[[3]]"  # driver-level parameters, kept for EXPLAIN


def test_queries_under_the_threshold_are_not_logged(build, tmp_path, caplog):
    app = build(60_000)
    with caplog.at_level(logging.WARNING, logger="flask_perf.slow_queries"):
        app.test_client().get("/roster?class_id=3")
    flush_monitoring(app)
    assert not [r for r in caplog.records if r.name == "flask_perf.slow_queries"]
    assert stored(tmp_path) == []


@pytest.mark.parametrize("toolbar, browser", [(False, True), (True, False), (True, True)])
def test_the_recorder_without_the_toolbar_skips_the_stack_walk(make_app, tmp_path, toolbar, browser):
    """flask_perf's recorder walks the stack for the calling line only when the toolbar shows it
    (a browser's request; an API client never sees it), and never needs Flask-SQLAlchemy's
    SQLALCHEMY_RECORD_QUERIES."""
    from flask import g

    from flask_perf.sql.recording import Query, recorded_queries

    app = make_app("testing", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_TOOLBAR_ENABLED=toolbar,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}")
    with app.app_context():
        seed(SMALL, reset=True)
    seen = []
    app.after_request(lambda response: seen.extend(recorded_queries()) or response)
    with app.test_client() as client:
        accept = {"Accept": "text/html,*/*;q=0.8"} if browser else {}
        assert client.get("/roster?class_id=3", headers=accept).status_code == 200
        assert "_sqlalchemy_queries" not in g  # Flask-SQLAlchemy's recorder stays off
    assert app.config["SQLALCHEMY_RECORD_QUERIES"] is False
    assert len(seen) == 2 and all(q.duration >= 0 for q in seen)
    assert any("student_identifier" in q.statement and list(q.parameters[0]) == [3] for q in seen)
    if toolbar and browser:
        assert all("webapp/school/" in q.location for q in seen)  # the line the panel shows
        assert all(isinstance(q, Query) for q in seen)
    else:
        assert all(isinstance(q, Query) and q.location == "" for q in seen)
