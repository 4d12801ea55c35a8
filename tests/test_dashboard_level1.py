"""Level 1 through flask_perf's wrapper (dashboard/level1.py) stores what FMD's own wrapper stores.

The same requests -- plain, JSON, created, aborted, failing, with an exception the view
captured, from two addresses, with and without a load-test run -- go once through FMD
5.1's stock ``add_wrapper1`` (its module loaded afresh from the installed file, so
nothing of ours is in it) and once through ours, each into a store of its own. The
dashboard's overview, the Request rows and the stored exceptions must be the same,
except one difference kept on purpose: an ``abort(404)`` is a request with its status,
not an exception occurrence (stock FMD stores a ``NotFound`` for it).
"""
import importlib.util
import sqlite3
from collections import Counter

import flask_monitoringdashboard as fmd
import pytest
from flask import Flask, abort, jsonify

from flask_perf import FlaskPerf
from tests.support import flush_monitoring

PASSWORD = "level-one-test-pw-1717"
RUN = "X-Loadtest-Run"
HOT_FIELDS = ("last-accessed",)  # when the last request came: differs between two runs


def plain():
    return "ok"


def as_json():
    return jsonify(ok=True)


def created():
    return "made", 201


def missing():
    abort(404)


def boom():
    raise RuntimeError("the view failed")


def captured():
    try:
        raise ValueError("handled by the view")
    except ValueError as exc:
        fmd.capture(exc)
    return "handled"


VIEWS = {"plain": plain, "json": as_json, "created": created, "missing": missing, "boom": boom,
         "captured": captured}
TRAFFIC = [  # (endpoint, client address, run header) -- the same requests for both runs
    *((name, "10.0.0.1", None) for name in VIEWS for _ in range(3)),
    *((name, "10.0.0.2", "run-7") for name in ("plain", "json", "boom")),
    ("plain", "10.0.0.2", "not a label!"),  # not a valid run label: no group
]


def stock_add_wrapper1():
    """FMD's own add_wrapper1, from a fresh copy of its measurement module."""
    from flask_monitoringdashboard.core import measurement

    spec = importlib.util.spec_from_file_location("stock_fmd_measurement", measurement.__file__)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    return fresh.add_wrapper1


def level1_app(path) -> Flask:
    app = Flask("level1_app", instance_path=str(path))
    app.config.update(SECRET_KEY="2f9c1e7a5b3d8046c1a9e2f7b5d3c8a0e4f6b2d9", PERF_STORE_DIR=str(path / "mon"),
                      PERF_MONITOR_PASSWORD=PASSWORD, PERF_VERSION="v-level-1", PROPAGATE_EXCEPTIONS=False,
                      PERF_DASHBOARD_LEVEL=1, TESTING=True)
    for name, view in VIEWS.items():
        app.add_url_rule(f"/{name}", name, view)
    FlaskPerf().init_app(app, profile="production")
    return app


def recorded(app) -> dict:
    """What the dashboard shows and stores after TRAFFIC."""
    client = app.test_client()
    for name, address, run in TRAFFIC:
        headers = {RUN: run} if run else {}
        client.get(f"/{name}", headers=headers, environ_base={"REMOTE_ADDR": address})
    flush_monitoring(app)
    page = client.get("/dashboard/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/dashboard/login", data={"name": "admin", "password": PASSWORD,
                                                 "csrf_token": token}).status_code == 302
    overview = {row["name"]: {k: v for k, v in row.items() if k not in HOT_FIELDS and not k.startswith("median")}
                for row in client.get("/dashboard/api/overview").get_json()}
    with sqlite3.connect(app.config["PERF_STORE_DIR"] + "/dashboard.db") as conn:
        requests = Counter(conn.execute(
            "SELECT e.name, r.status_code, r.ip, r.group_by, r.version_requested, r.duration >= 0 "
            "FROM Request r JOIN Endpoint e ON e.id = r.endpoint_id").fetchall())
        occurrences = conn.execute(
            "SELECT e.name, r.status_code, t.type, m.message, o.is_user_captured, o.stack_trace_snapshot_id "
            "FROM ExceptionOccurrence o JOIN Request r ON r.id = o.request_id "
            "JOIN Endpoint e ON e.id = r.endpoint_id JOIN ExceptionType t ON t.id = o.exception_type_id "
            "JOIN ExceptionMessage m ON m.id = o.exception_msg_id").fetchall()
        exceptions = Counter((*row[:5], stack(conn, row[5])) for row in occurrences)
        means = dict(conn.execute("SELECT e.name, AVG(r.duration) FROM Request r "
                                  "JOIN Endpoint e ON e.id = r.endpoint_id GROUP BY e.name").fetchall())
    from flask_monitoringdashboard.core import cache  # FMD's per-process duration cache (its outliers' mean)

    durations = {name: (info.hits, info.average_duration, info.last_requested is not None)
                 for name, info in cache.memory_cache.items() if name in VIEWS}
    return {"overview": overview, "requests": requests, "exceptions": exceptions, "durations": durations,
            "means": means}


def stack(conn, snapshot: int) -> tuple:
    """The functions of a stored exception's stack trace, outermost first."""
    return tuple(name for (name,) in conn.execute(
        "SELECT d.name FROM ExceptionStackLine s JOIN ExceptionFrame f ON f.id = s.exception_frame_id "
        "JOIN FunctionLocation l ON l.id = f.function_location_id "
        "JOIN FunctionDefinition d ON d.id = l.function_definition_id "
        "WHERE s.stack_trace_snapshot_id = ? ORDER BY s.position", (snapshot,)))


@pytest.fixture(scope="module")
def stock_and_ours(tmp_path_factory):
    from flask_monitoringdashboard.core import measurement

    stock_app = level1_app(tmp_path_factory.mktemp("stock"))
    levels = stock_app.extensions["flask_perf"].levels
    ours = measurement.add_wrapper1
    measurement.add_wrapper1 = stock_add_wrapper1()
    try:
        for name in VIEWS:
            levels.apply(name, 1)  # FMD's own wrapper in each level slot
    finally:
        measurement.add_wrapper1 = ours
    assert all(levels.wrappers[name].__code__.co_filename == measurement.__file__ for name in VIEWS)
    stock = recorded(stock_app)
    our_app = level1_app(tmp_path_factory.mktemp("ours"))
    assert all(our_app.extensions["flask_perf"].levels.wrappers[name].__code__.co_filename.endswith(
        "flask_perf/dashboard/level1.py") for name in VIEWS)
    return stock, recorded(our_app)


def test_the_overview_shows_the_same_numbers(stock_and_ours):
    stock, ours = stock_and_ours
    assert set(ours["overview"]) == set(VIEWS)
    assert (stock["overview"]["missing"].pop("exceptions"), ours["overview"]["missing"].pop("exceptions")) == (1, 0)
    assert ours["overview"] == stock["overview"]  # hits (today, week, overall, errors), exceptions, names
    assert ours["overview"]["plain"]["hits-overall"] == 5 and ours["overview"]["boom"]["hits-today-errors"] == 4
    assert ours["overview"]["boom"]["exceptions"] == 1 and ours["overview"]["captured"]["exceptions"] == 1


def test_every_request_is_stored_with_the_same_status_address_group_and_version(stock_and_ours):
    stock, ours = stock_and_ours
    assert ours["requests"] == stock["requests"]
    assert sum(ours["requests"].values()) == len(TRAFFIC)
    assert ours["requests"][("plain", 200, "10.0.0.2", "run-7", "v-level-1", 1)] == 1
    assert ours["requests"][("plain", 200, "10.0.0.2", "None", "v-level-1", 1)] == 1
    assert ours["requests"][("created", 201, "10.0.0.1", "None", "v-level-1", 1)] == 3


def test_errors_are_stored_with_their_exceptions(stock_and_ours):
    stock, ours = stock_and_ours
    aborted = {key: n for key, n in stock["exceptions"].items() if key[2] == "NotFound"}
    assert sum(aborted.values()) == 3  # stock FMD: an exception per abort(404)
    assert ours["exceptions"] == stock["exceptions"] - Counter(aborted)
    assert ours["exceptions"][("boom", 500, "RuntimeError", "the view failed", 0, ("boom",))] == 4
    assert ours["exceptions"][("captured", 200, "ValueError", "handled by the view", 1, ("captured",))] == 3


def test_the_duration_cache_counts_every_request_with_its_mean(stock_and_ours):
    """FMD's in-memory cache (hits and mean duration per endpoint, which its outlier check
    compares against): updated per batch by our writer, per request by FMD's wrapper."""
    stock, ours = stock_and_ours
    assert {name: hits for name, (hits, _, _) in ours["durations"].items()} == \
        {name: hits for name, (hits, _, _) in stock["durations"].items()}
    assert ours["durations"]["plain"][0] == 5 and ours["durations"]["boom"][0] == 4
    for name, (_hits, mean, requested) in ours["durations"].items():
        assert requested and mean == pytest.approx(ours["means"][name], rel=1e-9)
