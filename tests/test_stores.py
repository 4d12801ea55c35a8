"""Monitoring records land in the instance-folder stores, survive restarts, grow across runs."""
import os
import re
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import SMALL
from tests.support import ROOT, flush_monitoring
from webapp.extensions import db
from flask_perf.stores.status import store_status
from webapp.seed import seed


def counts(mon_dir):
    def one(file, sql):
        path = os.path.join(mon_dir, file)
        with sqlite3.connect(path) as conn:
            return conn.execute(sql).fetchone()[0]
    return {
        "dashboard": one("dashboard.db", "SELECT COUNT(*) FROM Request"),
        "profiler": one("profiler.db", "SELECT COUNT(*) FROM measurements"),
    }


@pytest.fixture
def mon_dir(tmp_path):
    return str(tmp_path / "monitoring")


def build(make_app, tmp_path, mon_dir, version):
    app = make_app("testing", PERF_STORE_DIR=mon_dir, PERF_VERSION=version,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}")
    with app.app_context():
        if db.session.execute(db.text("SELECT name FROM sqlite_master WHERE name='students'")).first() is None:
            seed(SMALL)
    return app


def test_requests_are_recorded_and_survive_a_restart(make_app, tmp_path, mon_dir):
    app = build(make_app, tmp_path, mon_dir, "v-one")
    client = app.test_client()
    for class_id in (1, 2, 3):
        assert client.get(f"/roster?class_id={class_id}").status_code == 200
    assert client.get("/my_class?student_id=4").status_code == 200
    flush_monitoring(app)
    assert counts(mon_dir) == {"dashboard": 4, "profiler": 4}

    restarted = build(make_app, tmp_path, mon_dir, "v-two")  # a new app on the same stores
    restarted.test_client().get("/roster?class_id=1")
    flush_monitoring(restarted)
    assert counts(mon_dir) == {"dashboard": 5, "profiler": 5}
    with sqlite3.connect(os.path.join(mon_dir, "dashboard.db")) as conn:
        versions = dict(conn.execute("SELECT version_requested, COUNT(*) FROM Request GROUP BY 1"))
    assert versions == {"v-one": 4, "v-two": 1}
    with sqlite3.connect(os.path.join(mon_dir, "profiler.db")) as conn:
        versions = dict(conn.execute("SELECT app_version, COUNT(*) FROM measurements GROUP BY 1"))
    assert versions == {"v-one": 4, "v-two": 1}


def test_stores_use_wal_and_live_in_the_monitoring_dir(make_app, tmp_path, mon_dir):
    app = build(make_app, tmp_path, mon_dir, "v")
    app.test_client().get("/roster?class_id=1")
    flush_monitoring(app)
    for name in ("dashboard.db", "profiler.db", "slow_queries.db"):
        with sqlite3.connect(os.path.join(mon_dir, name)) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_monitoring_status_reports_counts(make_app, tmp_path, mon_dir):
    app = build(make_app, tmp_path, mon_dir, "v")
    app.test_client().get("/roster?class_id=1")
    app.test_client().get("/roster?class_id=2")
    flush_monitoring(app)
    status = {entry["tool"]: entry for entry in store_status(app)}
    assert status["Flask-MonitoringDashboard"]["counts"]["Request"] == 2
    assert status["flask-profiler"]["counts"]["measurements"] == 2
    assert status["Flask-MonitoringDashboard"]["store"].endswith("monitoring/dashboard.db")
    result = app.test_cli_runner().invoke(args=["perf", "status"])
    assert result.exit_code == 0
    assert re.search(r"Request: 2, Endpoint: \d+", result.output)
    assert "measurements: 2" in result.output


def test_two_recording_test_sessions_accumulate(tmp_path):
    """Run a slice of this suite twice, as `make test` would: both runs stay visible."""
    record = tmp_path / "record"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("APP_")},
           "APP_TEST_RECORD_DIR": str(record)}
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "tests/test_school.py::test_roster_lists_the_class_students",
            "tests/test_school.py::test_unknown_class_is_json_404", "-k", "sqlite"]
    labels, totals = [], []
    for _ in range(2):
        run = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stdout + run.stderr
        with sqlite3.connect(record / "dashboard.db") as conn:
            labels.append({v for (v,) in conn.execute("SELECT DISTINCT version_requested FROM Request")})
            totals.append(conn.execute("SELECT COUNT(*) FROM Request").fetchone()[0])
        with sqlite3.connect(record / "profiler.db") as conn:
            assert conn.execute("SELECT COUNT(*) FROM measurements").fetchone()[0] == totals[-1]
    assert totals == [2, 4]
    assert len(labels[1]) == 2 and all("test-run" in label for label in labels[1])


@pytest.mark.mariadb
def test_a_real_innodb_deadlock_is_retried_not_reported(mariadb_database):
    """Two transactions locking two rows in opposite order: InnoDB kills one (1213)."""
    import threading

    from sqlalchemy import create_engine, text

    from flask_perf.stores.writer import is_transient

    engine = create_engine(mariadb_database())
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB"))
        conn.execute(text("INSERT INTO t VALUES (1, 0), (2, 0)"))
    errors, both_locked = [], threading.Barrier(2, timeout=10)

    def lock(first, second):
        try:
            with engine.begin() as conn:
                conn.execute(text("UPDATE t SET v = v + 1 WHERE id = :i"), {"i": first})
                both_locked.wait()
                conn.execute(text("UPDATE t SET v = v + 1 WHERE id = :i"), {"i": second})
        except Exception as exc:  # noqa: BLE001 - the deadlock victim
            errors.append(exc)

    threads = [threading.Thread(target=lock, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    engine.dispose()
    assert len(errors) == 1 and is_transient(errors[0])
    assert not is_transient(ValueError("not a database error"))
