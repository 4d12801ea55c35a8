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
        app = make_app("testing", MONITORING_DIR=str(tmp_path / "mon"), SLOW_QUERY_MS=threshold_ms,
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
    with caplog.at_level(logging.WARNING, logger="webapp.slow_queries"):
        assert app.test_client().get("/roster?class_id=3").status_code == 200
    flush_monitoring(app)
    messages = [r.getMessage() for r in caplog.records if r.name == "webapp.slow_queries"]
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
    with caplog.at_level(logging.WARNING, logger="webapp.slow_queries"):
        app.test_client().get("/roster?class_id=3")
    flush_monitoring(app)
    assert not [r for r in caplog.records if r.name == "webapp.slow_queries"]
    assert stored(tmp_path) == []
