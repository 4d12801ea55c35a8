"""Read replica routing against a real MariaDB primary + replica (binlog replication),
and the write endpoint it needs (POST/DELETE /enrollments).

The pair is started once for the module (webapp/replica_pair.py: two ``mariadbd`` with
their own data directories on free loopback ports, the general log in a table), so
which server ran a statement is read from each server's ``mysql.general_log``.
Without the MariaDB programs the pair tests skip, except in CI (``CI=true``).
"""
import json
import logging
import os
import tempfile
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from tests.conftest import SMALL
from tests.support import run_flask
from webapp.extensions import db
from webapp.replica import COOKIE, EXTENSION
from webapp.replica_pair import ReplicaPair, missing_binaries
from webapp.seed import seed

ROSTER_SQL = "WHERE student_identifier.class_id = {} ORDER BY"
MY_CLASS_SQL = "WHERE student_identifier.student_id = {} ORDER BY"

if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):  # as in test_fuzz: no .hypothesis/ in the tree
    set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "flask-perf-hypothesis"))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    if missing := missing_binaries():
        message = f"MariaDB programs not installed: {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    started = time.monotonic()
    pair = ReplicaPair(tmp_path_factory.mktemp("pair"), general_log=True).start()
    print(f"replica pair started in {time.monotonic() - started:.1f}s")
    try:
        yield pair
    finally:
        pair.remove()


@pytest.fixture(scope="module")
def seeded(pair, tmp_path_factory):
    """The small data set on the primary, replicated."""
    from webapp import create_app

    app = create_app("bare", {"INSTANCE_PATH": str(tmp_path_factory.mktemp("seed")),
                              "SQLALCHEMY_DATABASE_URI": pair.primary_url})
    with app.app_context():
        seed(SMALL, reset=True)
        db.engine.dispose()
    pair.wait_synced()
    return pair


@pytest.fixture
def make_replica_app(seeded, make_app):
    apps = []

    def factory(profile="bare", **config):
        config = {"SQLALCHEMY_DATABASE_URI": seeded.primary_url,
                  "READ_REPLICA_URL": seeded.replica_url, **config}
        app = make_app(profile, **config)
        apps.append(app)
        return app

    for server in (seeded.primary, seeded.replica):
        seeded.execute(server, "TRUNCATE mysql.general_log")
    yield factory
    for app in apps:
        with app.app_context():
            db.engine.dispose()
        if EXTENSION in app.extensions:
            app.extensions[EXTENSION].engine.dispose()


def ran_on(pair: ReplicaPair, text: str) -> dict:
    """How many statements containing ``text`` each server has logged (EXPLAINs aside)."""
    counts = {}
    for role, server in (("primary", pair.primary), ("replica", pair.replica)):
        rows = pair.execute(server, "SELECT COUNT(*) AS n FROM mysql.general_log WHERE "
                            "command_type = 'Query' AND argument LIKE %s AND argument NOT LIKE %s",
                            (f"%{text}%", "EXPLAIN%"))
        counts[role] = rows[0]["n"]
    return counts


def unenrolled_pair(pair: ReplicaPair) -> tuple[int, int]:
    rows = pair.execute(pair.primary, "SELECT c.id FROM school.classes c WHERE c.id NOT IN "
                        "(SELECT class_id FROM school.student_identifier WHERE student_id = 9) "
                        "ORDER BY c.id LIMIT 1")
    return 9, rows[0]["id"]


def test_write_runs_on_the_primary_and_replicates(make_replica_app, seeded):
    client = make_replica_app().test_client()
    student_id, class_id = unenrolled_pair(seeded)
    # asking for the replica does not move a write there
    response = client.post("/enrollments", json={"student_id": student_id, "class_id": class_id},
                           headers={"X-Read-From": "replica"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["class_id"] == class_id
    assert response.headers["Location"].endswith(f"/my_class?student_id={student_id}")
    assert ran_on(seeded, "INSERT INTO student_identifier") == {"primary": 1, "replica": 0}
    assert ran_on(seeded, f"WHERE students.id = {student_id} FOR UPDATE") == {"primary": 1, "replica": 0}

    seeded.wait_synced()
    query = ("SELECT COUNT(*) AS n FROM school.student_identifier WHERE student_id = %s "
             "AND class_id = %s")
    assert seeded.execute(seeded.replica, query, (student_id, class_id))[0]["n"] == 1

    assert client.post("/enrollments", data={"student_id": str(student_id),
                                             "class_id": str(class_id)}).status_code == 409
    assert client.delete(f"/enrollments?student_id={student_id}&class_id={class_id}").status_code == 204
    seeded.wait_synced()
    assert seeded.execute(seeded.replica, query, (student_id, class_id))[0]["n"] == 0


def test_routing_by_server(make_replica_app, seeded):
    """GET reads on the replica; the header and the write's cookie force the primary."""
    client = make_replica_app(READ_REPLICA_STICKY_S=60).test_client()
    assert client.get("/roster?class_id=3").status_code == 200
    assert ran_on(seeded, ROSTER_SQL.format(3)) == {"primary": 0, "replica": 1}
    assert ran_on(seeded, "WHERE classes.id = 3") == {"primary": 0, "replica": 1}
    assert client.get("/my_class?student_id=5").status_code == 200
    assert ran_on(seeded, MY_CLASS_SQL.format(5)) == {"primary": 0, "replica": 1}

    response = client.get("/roster?class_id=4", headers={"X-Read-From": "primary"})
    assert response.status_code == 200 and response.get_json()["students"]
    assert ran_on(seeded, ROSTER_SQL.format(4)) == {"primary": 1, "replica": 0}

    student_id, class_id = unenrolled_pair(seeded)
    response = client.post("/enrollments", json={"student_id": student_id, "class_id": class_id})
    assert response.status_code == 201
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None and cookie.http_only and 60 <= cookie.max_age <= 62
    # read-your-writes: this client's next read is on the primary and shows the new class
    page = client.get(f"/my_class?student_id={student_id}").get_data(as_text=True)
    assert f'/roster?class_id={class_id}"' in page
    assert ran_on(seeded, MY_CLASS_SQL.format(student_id)) == {"primary": 1, "replica": 0}
    # another client, without the cookie, reads from the replica
    other = make_replica_app().test_client()
    assert other.get(f"/my_class?student_id={student_id}").status_code == 200
    assert ran_on(seeded, MY_CLASS_SQL.format(student_id)) == {"primary": 1, "replica": 1}
    assert client.delete("/enrollments", json={"student_id": student_id,
                                               "class_id": class_id}).status_code == 204


def test_bad_read_header_is_a_400(make_replica_app):
    response = make_replica_app().test_client().get("/roster?class_id=1",
                                                    headers={"X-Read-From": "secondary"})
    assert response.status_code == 400
    assert "X-Read-From must be 'primary' or 'replica'" in response.get_json()["message"]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_replica_down_reads_fall_back_with_one_warning_per_interval(make_replica_app, seeded,
                                                                      caplog):
    app = make_replica_app(READ_REPLICA_RETRY_S=30)
    clock = app.extensions[EXTENSION].health.clock = Clock()
    client = app.test_client()
    assert client.get("/roster?class_id=2").status_code == 200  # a pooled replica connection
    caplog.set_level(logging.INFO, logger="webapp.replica")
    seeded.replica.stop()
    try:
        for class_id in (5, 6, 7):
            response = client.get(f"/roster?class_id={class_id}")
            assert response.status_code == 200 and response.get_json()["students"]
        assert [r.levelname for r in caplog.records if r.name == "webapp.replica"] == ["WARNING"]
        clock.now += 30  # next interval: one more try, one more warning
        assert client.get("/my_class?student_id=3").status_code == 200
        assert client.get("/my_class?student_id=4").status_code == 200
        warnings = [r for r in caplog.records if r.levelname == "WARNING"]
        assert len(warnings) == 2 and "next try in 30s" in warnings[1].getMessage()
    finally:
        seeded.replica.start(seeded.passwords["admin"])
    seeded.wait_synced()
    assert ran_on(seeded, ROSTER_SQL.format(6)) == {"primary": 1, "replica": 0}
    clock.now += 30
    assert client.get("/roster?class_id=8").status_code == 200
    assert ran_on(seeded, ROSTER_SQL.format(8)) == {"primary": 0, "replica": 1}
    assert [r.getMessage() for r in caplog.records if r.name == "webapp.replica"][-1] == \
        "read replica answers again; reads use it"


def test_binds_config_and_env(make_replica_app, seeded, monkeypatch):
    """SQLALCHEMY_BINDS={"replica": url}, also as APP_SQLALCHEMY_BINDS JSON, works like
    READ_REPLICA_URL, and create_all/drop_all never visit the replica."""
    monkeypatch.setenv("APP_SQLALCHEMY_BINDS", json.dumps({"replica": seeded.replica_url}))
    app = make_replica_app(READ_REPLICA_URL=None)
    assert app.config["SQLALCHEMY_BINDS"] == {}
    assert "replica" not in db.metadatas
    assert app.test_client().get("/roster?class_id=9").status_code == 200
    assert ran_on(seeded, ROSTER_SQL.format(9)) == {"primary": 0, "replica": 1}


def test_monitoring_records_and_explains_replica_reads(make_replica_app, seeded, tmp_path, caplog):
    app = make_replica_app("testing", PERF_STORE_DIR=str(tmp_path), PERF_SLOW_QUERY_MS=0,
                           PERF_DASHBOARD_MANAGE_USER=False)
    with caplog.at_level(logging.WARNING, logger="flask_perf.slow_queries"):
        assert app.test_client().get("/roster?class_id=10").status_code == 200
        app.extensions["flask_perf"].flush()  # the writer thread logs and stores slow queries
    assert ran_on(seeded, ROSTER_SQL.format(10)) == {"primary": 0, "replica": 1}
    logged = [r.getMessage() for r in caplog.records if "ORDER BY students.id" in r.getMessage()]
    assert len(logged) == 1 and "on school.roster" in logged[0]
    assert "plan: student_identifier: FULL SCAN" in logged[0]  # EXPLAINed on the primary


# --- without a replica: the write endpoint's input checks, one engine (SQLite and MariaDB)


def test_no_replica_configured_everything_on_one_engine(app, client):
    assert EXTENSION not in app.extensions
    with app.test_request_context("/roster?class_id=1"):
        assert db.session.get_bind() is db.engine
    response = client.post("/enrollments", json={"student_id": 1, "class_id": 12})
    assert response.status_code in (201, 409)
    assert COOKIE not in response.headers.get("Set-Cookie", "")


BAD_BODIES = [
    ({}, "student_id", "is required"),
    ({"student_id": 1}, "class_id", "is required"),
    ({"student_id": "abc", "class_id": 1}, "student_id", "must be a positive integer"),
    ({"student_id": 1, "class_id": -3}, "class_id", "must be a positive integer"),
    ({"student_id": 1.5, "class_id": 1}, "student_id", "must be a positive integer"),
    ({"student_id": True, "class_id": 1}, "student_id", "must be a positive integer"),
    ({"student_id": [1], "class_id": 1}, "student_id", "must be a positive integer"),
    ({"student_id": 0, "class_id": 1}, "student_id", "must be between 1 and 2147483647"),
    ({"student_id": 1, "class_id": 10**30}, "class_id", "must be between 1 and 2147483647"),
    ({"student_id": "9" * 5000, "class_id": 1}, "student_id", "must be between 1"),
    ({"student_id": "１", "class_id": 1}, "student_id", "must be a positive integer"),
]


def test_enrollment_bad_input_is_a_400_naming_the_parameter(client):
    for body, parameter, message in BAD_BODIES:  # one app for all: seeding one costs more
        response = client.post("/enrollments", json=body)
        assert response.status_code == 400, body
        assert response.get_json()["parameter"] == parameter, body
        assert message in response.get_json()["message"], body


def test_enrollment_errors(client):
    assert client.post("/enrollments", data="[1, 2]", content_type="application/json").get_json()[
        "parameter"] == "body"
    broken = client.post("/enrollments", data="{", content_type="application/json")
    assert broken.status_code == 400 and broken.is_json
    deep = client.post("/enrollments", data="[" * 100_000, content_type="application/json")
    assert deep.status_code == 400 and deep.get_json()["parameter"] == "body"
    twice = client.post("/enrollments", data="student_id=1&student_id=2&class_id=1",
                        content_type="application/x-www-form-urlencoded")
    assert twice.status_code == 400 and twice.get_json()["message"] == "student_id must be given once"
    unknown = client.post("/enrollments", json={"student_id": 999999, "class_id": 1})
    assert unknown.status_code == 404 and unknown.get_json()["message"] == "student 999999 does not exist"
    unknown = client.post("/enrollments", json={"student_id": 1, "class_id": 999999})
    assert unknown.status_code == 404 and unknown.get_json()["message"] == "class 999999 does not exist"
    missing = client.delete("/enrollments", json={"student_id": 1, "class_id": 999999})
    assert missing.status_code == 404 and "is not enrolled" in missing.get_json()["message"]
    wrong = client.get("/enrollments")
    assert wrong.status_code == 405 and wrong.is_json and "POST" in wrong.headers["Allow"]


def test_enroll_then_conflict_then_remove(app, client):
    classes = client.get("/my_class?student_id=2").get_data(as_text=True)
    class_id = next(c for c in range(1, 13) if f'/roster?class_id={c}"' not in classes)
    created = client.post("/enrollments", data={"student_id": "2", "class_id": str(class_id)})
    assert created.status_code == 201 and created.get_json()["class_name"]
    assert f'/roster?class_id={class_id}"' in client.get("/my_class?student_id=2").get_data(as_text=True)
    again = client.post("/enrollments", json={"student_id": 2, "class_id": class_id})
    assert again.status_code == 409 and again.get_json()["error"] == "conflict"
    assert client.delete("/enrollments", json={"student_id": 2, "class_id": class_id}).status_code == 204
    assert f'/roster?class_id={class_id}"' not in client.get("/my_class?student_id=2").get_data(as_text=True)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(JSON_VALUES, st.fixed_dictionaries({"student_id": JSON_VALUES,
                                                          "class_id": JSON_VALUES})),
       method=st.sampled_from(["post", "delete"]))
def test_enrollment_bodies_never_fail(client, body, method):
    response = getattr(client, method)("/enrollments", json=body)
    assert response.status_code in {201, 204, 400, 404, 409}
    assert response.is_json or response.status_code == 204


@pytest.mark.server
def test_readwrite_load_reads_on_the_replica_from_gunicorn_workers(seeded, tmp_path):
    """`flask loadtest --scenario readwrite` on gunicorn: readers' queries all ran on the
    replica, the writers' read-back on the primary, and every read-back saw its write."""
    for server in (seeded.primary, seeded.replica):
        seeded.execute(server, "TRUNCATE mysql.general_log")
    result = run_flask(tmp_path, "bare", "perf", "loadtest", "--profile", "bare", "--scenario", "readwrite",
                       "--users", "5", "--duration", "8s", "--max-requests", "150",
                       APP_SQLALCHEMY_DATABASE_URI=seeded.primary_url,
                       APP_READ_REPLICA_URL=seeded.replica_url)
    assert result.returncode == 0, result.stdout + result.stderr
    folder = tmp_path / "loadtests" / os.listdir(tmp_path / "loadtests")[0]
    locust = json.loads((folder / "summary.json").read_text())["locust"]
    assert locust["total"]["failures"] == 0, locust["failures"]
    count = {e["name"]: e["requests"] for e in locust["endpoints"]}
    assert count["/roster"] > 0 and count["/my_class [after write]"] > 0
    assert ran_on(seeded, ROSTER_SQL.format("%")) == {"primary": 0, "replica": count["/roster"]}
    assert ran_on(seeded, MY_CLASS_SQL.format("%")) == {
        "primary": count["/my_class [after write]"], "replica": count["/my_class"]}


@pytest.mark.mariadb
@pytest.mark.parametrize("backend", ["mariadb"], indirect=True)
def test_concurrent_enrollments_of_one_pair_make_one_row(app, backend):
    """The student's row lock serialises the duplicate check: one 201, the rest 409."""
    from concurrent.futures import ThreadPoolExecutor

    classes = app.test_client().get("/my_class?student_id=4").get_data(as_text=True)
    class_id = next(c for c in range(1, 13) if f'/roster?class_id={c}"' not in classes)

    def enroll(_):
        return app.test_client().post("/enrollments", json={"student_id": 4, "class_id": class_id})

    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(r.status_code for r in pool.map(enroll, range(6)))
    assert statuses == [201, 409, 409, 409, 409, 409]
    page = app.test_client().get("/my_class?student_id=4").get_data(as_text=True)
    assert page.count(f'/roster?class_id={class_id}"') == 1


def test_replica_lost_in_the_middle_of_a_read_is_a_503(make_replica_app, seeded):
    """The replica's connection is killed between two reads of one request: 503, not 500,
    and the next reads go to the primary."""
    from flask import jsonify
    from sqlalchemy import text

    app = make_replica_app()

    @app.get("/_test/replica-dies")
    def replica_dies():
        first = db.session.execute(text("SELECT CONNECTION_ID()")).scalar_one()  # on the replica
        seeded.execute(seeded.replica, f"KILL {int(first)}")
        db.session.execute(text("SELECT 1")).scalar_one()
        return jsonify(unreachable=True)

    client = app.test_client()
    lost = client.get("/_test/replica-dies")
    assert lost.status_code == 503 and lost.headers["Retry-After"] == "1"
    assert "read replica went away" in lost.get_data(as_text=True)
    assert not app.extensions[EXTENSION].health.usable()  # the next reads skip it
    assert client.get("/roster?class_id=2").status_code == 200
    assert ran_on(seeded, "student_identifier.class_id")["primary"] >= 1
