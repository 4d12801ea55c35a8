"""The bottleneck finder: verdicts on real plans, index hints applied, N+1, explain CLI."""
import logging
import sqlite3
import time

import pytest
from flask import jsonify
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tests.support import flush_monitoring
from webapp.extensions import db
from webapp.models import Student
from flask_perf.sql import explain as explainer
from flask_perf.sql.shapes import normalize, repeats
from webapp.school.queries import roster_statement, student_classes_statement


@pytest.fixture
def dev_app(app, make_app, backend, tmp_path):
    """The seeded database of ``app``, in a development app recording into tmp_path."""
    dev = make_app("development", SQLALCHEMY_DATABASE_URI=backend[1], PERF_SLOW_QUERY_MS=0,
                   PERF_STORE_DIR=str(tmp_path / "mon"), TESTING=True)
    yield dev
    with dev.app_context():
        db.engine.dispose()


def verdicts(app):
    with app.app_context():
        engine = db.engine
        return [explainer.explain_and_analyze(engine, *explainer.compiled(engine, stmt))
                for stmt in (roster_statement(3), student_classes_statement(3))]


def test_full_scan_found_then_index_used_after_apply(dev_app, backend):
    before = verdicts(dev_app)
    for verdict in before:
        scans = {t.table: t for t in verdict.full_scans}
        assert "student_identifier" in scans
        assert scans["student_identifier"].hint.create_sql.startswith(
            "CREATE INDEX ix_hint_student_identifier_")
        if backend[0] == "mariadb":
            assert scans["student_identifier"].rows >= 100  # MariaDB says how many rows it examines
    assert [v.full_scans[0].hint.columns for v in before] == [("class_id", "student_id"),
                                                              ("student_id", "class_id")]
    runner = dev_app.test_cli_runner()
    assert "no full scan found" in runner.invoke(args=["perf", "indexes"]).output  # nothing ran yet
    client = dev_app.test_client()  # the hints come from what the app actually ran
    assert client.get("/roster?class_id=3").status_code == 200
    assert client.get("/my_class?student_id=3").status_code == 200
    flush_monitoring(dev_app)
    shown = runner.invoke(args=["perf", "indexes"])
    assert shown.exit_code == 0 and shown.output.count("hint:    CREATE INDEX") == 2
    applied = runner.invoke(args=["perf", "indexes", "--apply"])
    assert applied.exit_code == 0 and applied.output.count("created:") == 2
    again = runner.invoke(args=["perf", "indexes", "--apply"])
    assert again.exit_code == 0 and "created:" not in again.output  # idempotent
    after = verdicts(dev_app)
    for verdict in after:
        assert verdict.full_scans == [], verdict.summary()
        assert any("ix_hint_student_identifier" in t.access or t.access in ("ref", "eq_ref")
                   for t in verdict.tables if t.table == "student_identifier")
    dropped = runner.invoke(args=["perf", "indexes", "--drop"])
    assert dropped.exit_code == 0 and dropped.output.count("dropped") == 2
    assert all(v.full_scans for v in verdicts(dev_app)), [v.summary() for v in verdicts(dev_app)]  # back to the original schema


def test_normalisation_groups_the_same_statement():
    a = "SELECT * FROM t WHERE a = 1 AND b = 'x'  AND c IN (?, ?, ?)"
    b = "SELECT *\nFROM t WHERE a = 42 AND b = 'it''s' AND c IN (?, ?)"
    c = "SELECT * FROM t WHERE a = %(a_1)s AND b = %(b_1)s AND c IN (%(c_1)s)"
    assert normalize(a) == normalize(b) == "SELECT * FROM t WHERE a = ? AND b = ? AND c IN (?)"
    assert normalize(c) == "SELECT * FROM t WHERE a = ? AND b = ? AND c IN (?)"
    assert normalize("SELECT * FROM u WHERE a = 1") != normalize(a)


def test_explain_cli_reads_the_slow_query_log(dev_app, backend):
    client = dev_app.test_client()
    for class_id in (1, 2, 3):
        assert client.get(f"/roster?class_id={class_id}").status_code == 200
    client.get("/my_class?student_id=4")
    flush_monitoring(dev_app)
    result = dev_app.test_cli_runner().invoke(args=["perf", "explain", "--top", "5", "--since", "1h"])
    assert result.exit_code == 0, result.output
    assert "3× — school.roster" in result.output  # three parameter sets, one statement
    assert "student_identifier: FULL SCAN" in result.output
    assert "hint: CREATE INDEX ix_hint_student_identifier_class_id_student_id" in result.output


def test_slow_query_log_and_toolbar_show_the_verdict(dev_app, caplog):
    client = dev_app.test_client()
    with caplog.at_level(logging.WARNING, logger="flask_perf.slow_queries"):
        page = client.get("/my_class?student_id=4",
                          environ_base={"REMOTE_ADDR": "127.0.0.1", "HTTP_ACCEPT": "text/html"})
        flush_monitoring(dev_app)  # the writer thread EXPLAINs and logs
    assert any("plan: student_identifier: FULL SCAN" in r.getMessage() for r in caplog.records)
    html = page.get_data(as_text=True)
    assert 'class="flask-perf-verdict full-scan"' in html and "CREATE INDEX ix_hint_" in html


def test_n_plus_one_detector(dev_app, tmp_path, caplog):
    def lazy():
        students = db.session.execute(select(Student).order_by(Student.id).limit(8)).scalars()
        return jsonify([len(s.classes) for s in students])  # one query per student

    def eager():
        stmt = select(Student).options(selectinload(Student.classes)).order_by(Student.id).limit(8)
        return jsonify([len(s.classes) for s in db.session.execute(stmt).scalars()])

    dev_app.add_url_rule("/lazy", "lazy", lazy)
    dev_app.add_url_rule("/eager", "eager", eager)
    client = dev_app.test_client()
    with caplog.at_level(logging.WARNING, logger="flask_perf.nplusone"):
        assert client.get("/eager").status_code == 200
        assert client.get("/roster?class_id=1").status_code == 200
        assert client.get("/my_class?student_id=1").status_code == 200
        flush_monitoring(dev_app)  # findings are made and logged by the writer thread
        assert not [r for r in caplog.records if r.name == "flask_perf.nplusone"]
        assert client.get("/lazy").status_code == 200
        flush_monitoring(dev_app)
    messages = [r.getMessage() for r in caplog.records if r.name == "flask_perf.nplusone"]
    assert len(messages) == 1 and messages[0].startswith("N+1 on lazy: 8 × SELECT classes.id")
    flush_monitoring(dev_app)
    with sqlite3.connect(tmp_path / "mon" / "slow_queries.db") as conn:
        stored = conn.execute("SELECT endpoint, kind, count FROM query_finding").fetchall()
    assert stored == [("lazy", "n+1", 8)]


def test_duplicates_are_found():
    class Q:
        def __init__(self, statement, parameters):
            self.statement, self.parameters = statement, parameters
    found = repeats([Q("SELECT 1 FROM t WHERE id = ?", (1,)), Q("SELECT 1 FROM t WHERE id = ?", (1,)),
                     Q("SELECT 1 FROM t WHERE id = ?", (2,))], threshold=5)
    assert [(r.kind, r.count) for r in found] == [("duplicate", 2)]


def test_slowest_statements_group_by_shape_and_keep_the_slowest_sample(make_app, tmp_path):
    from flask_perf.sql.slow_queries import metadata, slow_query
    from flask_perf.sql.statements import slowest_statements
    from flask_perf.stores.engines import store_engine

    app = make_app("bare", PERF_STORE_DIR=str(tmp_path / "store"))
    assert slowest_statements(app, None, "sqlite") == []  # no store yet: nothing, no error
    engine = store_engine(f"sqlite:///{tmp_path / 'store' / 'slow_queries.db'}")
    metadata.create_all(engine)
    now = time.time()
    rows = [("SELECT * FROM s WHERE id = 1", "a", 10.0, now, "sqlite", {"p": 1}),
            ("SELECT * FROM s WHERE id = 2", "b", 30.0, now, "sqlite", {"p": 2}),
            ("SELECT * FROM s WHERE id = 3", "a", 20.0, now - 7200, "sqlite", {"p": 3}),
            ("SELECT * FROM s WHERE id = 1", "a", 15.0, now, "sqlite", {"p": 4}),
            ("SELECT 1", None, 5.0, now, "sqlite", None),
            ("SELECT * FROM s WHERE id = 9", "c", 99.0, now, "mysql", {"p": 9})]
    with engine.begin() as conn:
        conn.execute(slow_query.insert(), [dict(statement=s, endpoint=e, duration_ms=d, recorded_at=t, dialect=dl,
                                                parameters=p) for s, e, d, t, dl, p in rows])
    engine.dispose()
    every, plain = slowest_statements(app, None, "sqlite")
    assert every["shape"] == "SELECT * FROM s WHERE id = ?"
    assert (every["count"], every["mean"], every["max"], every["endpoints"]) == (4, 18.75, 30.0, {"a", "b"})
    assert (every["statement"], every["parameters"]) == ("SELECT * FROM s WHERE id = 2", {"p": 2})  # the slowest
    assert (plain["count"], plain["parameters"], plain["endpoints"]) == (1, None, {None})
    recent = slowest_statements(app, 3600, "sqlite")[0]  # the row of two hours ago left out
    assert (recent["count"], recent["mean"]) == (3, 55 / 3)


def test_slowest_statements_read_the_samples_of_many_shapes(make_app, tmp_path):
    """The slowest samples' parameters are read in batches of ids (500 a statement)."""
    from flask_perf.sql.slow_queries import metadata, slow_query
    from flask_perf.sql.statements import slowest_statements
    from flask_perf.stores.engines import store_engine

    app = make_app("bare", PERF_STORE_DIR=str(tmp_path / "store"))
    engine = store_engine(f"sqlite:///{tmp_path / 'store' / 'slow_queries.db'}")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(slow_query.insert(), [dict(statement=f"SELECT * FROM t{i} WHERE id = 1", endpoint="e",
                                                duration_ms=float(i), recorded_at=time.time(), dialect="sqlite",
                                                parameters={"i": i}) for i in range(1, 1201)])
    engine.dispose()
    groups = slowest_statements(app, None, "sqlite")
    assert [g["parameters"]["i"] for g in groups] == list(range(1200, 0, -1))  # slowest first, each its own
