"""Rollups: exact counts, percentiles within 5 %, FMD's pages and flask-profiler's from them, upgrades.

The stores keep hour and day histograms (stores/rollups.py) written with each batch;
FMD's heavy API views and flask-profiler's summary read them instead of every row.
These tests compare the rollups with the raw rows they summarise, on SQLite and
MariaDB, FMD's stock computations with ours on the same requests (also the endpoint
page's IP, status-code, exception, outlier and profiler tabs), and check that a store
written before rollups keeps every count after the first start of this code, that a
release adding tiers fills only those, and that the profiled-requests table is
filled for an older store and kept in step by its triggers.
"""
import json
import random
import time
from datetime import datetime, timedelta, timezone

import numpy
import pytest
from flask import Flask, abort, jsonify
from sqlalchemy import Row, column, func, insert, select, table, text

from flask_perf import FlaskPerf
from flask_perf.dashboard import overview as our_overview
from flask_perf.dashboard.rollups import REQUEST, SOURCE, STATUSES, SUMMARY
from flask_perf.stores.backfill import Backfill, pending
from flask_perf.stores.engines import store_engine
from flask_perf.stores.histogram import Histogram
from flask_perf.stores.rollup_reads import cells, spans, summary
from flask_perf.stores.writer import BatchWriter
from tests.support import flush_monitoring

PASSWORD = "rollups-test-pw-4242"
SAME = {"Origin": "http://localhost"}
P = (50, 95, 99)


def close(estimate, exact, tolerance=0.05) -> bool:
    return abs(estimate - exact) <= tolerance * abs(exact) + 1e-9


def skewed(rng: random.Random, n: int) -> list[float]:
    """Log-normal latencies (ms) with a slow tail, as real endpoints have."""
    return [rng.lognormvariate(3, 0.8) * (20 if rng.random() < 0.03 else 1) for _ in range(n)]


# ----------------------------------------------------------------- the histogram and the ranges

def test_percentiles_from_the_histogram_are_within_5_percent():
    values = skewed(random.Random(1), 5000) + [0.01, 0.0, 700_000.0]  # below and above the buckets
    hist = Histogram.of(values)
    for p in P:
        assert close(hist.percentile(p), numpy.percentile(values, p)), p
    assert hist.count == len(values) and close(hist.total, sum(values), 1e-9)
    assert hist.value_at(0) == 0.0 and hist.value_at(len(values) - 1) == 700_000.0
    few = [3.0, 4.5, 12.0]  # one value per bucket: given back exactly
    assert Histogram.of(few).representative(10) == few


def test_a_range_is_whole_days_whole_hours_and_raw_edges():
    start, end = 86400 * 10 + 1800, 86400 * 12 + 7200 + 60
    pieces = spans(start, end)
    assert pieces == [(None, start, 86400 * 10 + 3600), (3600, 86400 * 10 + 3600, 86400 * 11),
                      (86400, 86400 * 11, 86400 * 12), (3600, 86400 * 12, 86400 * 12 + 7200),
                      (None, 86400 * 12 + 7200, end)]
    assert spans(100, 200) == [(None, 100, 200)] and spans(5, 5) == []


# ----------------------------------------------------------------- a store written by the writer

@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dashboard.db'}"
    return request.getfixturevalue("mariadb_database")()


def test_counts_are_exact_and_percentiles_within_5_percent(store_url):
    engine = store_engine(store_url)
    REQUEST.metadata.create_all(engine)
    SOURCE.create_schema(engine)
    writer = BatchWriter(engine, REQUEST, "rollup-test", batch=700, linger_s=0, on_batch=SOURCE)
    rng, now = random.Random(7), datetime.now(timezone.utc)
    rows = [{"endpoint_id": rng.choice((1, 2, 3)), "version_requested": rng.choice(("v1", "v2")),
             "group_by": rng.choice(("None", "run-a")), "duration": ms,
             "status_code": rng.choices((200, 404, 500), (92, 3, 5))[0],
             "time_requested": now - timedelta(seconds=rng.uniform(0, 3 * 86400))}
            for ms in skewed(rng, 6000)]
    for row in rows:
        writer.put(row)
    assert writer.flush() and writer.written == len(rows)
    since = (now - timedelta(hours=36, minutes=17)).timestamp()
    with engine.connect() as conn:
        overall = cells(conn, SOURCE, ("endpoint_id",))
        window = cells(conn, SOURCE, ("endpoint_id",), start=since)
        counted = summary(conn, SUMMARY, ("endpoint_id", "version_requested", "group_by"))
    for endpoint in (1, 2, 3):
        mine = [r for r in rows if r["endpoint_id"] == endpoint]
        recent = [r for r in mine if r["time_requested"].timestamp() >= since]
        for found, expected in ((overall[(endpoint,)], mine), (window[(endpoint,)], recent)):
            durations = [r["duration"] for r in expected]
            assert found.count == len(expected)
            assert found.errors() == sum(r["status_code"] >= 400 for r in expected)
            assert found.statuses[5] == sum(r["status_code"] >= 500 for r in expected)
            for p in P:
                assert close(found.hist.percentile(p), numpy.percentile(durations, p)), (endpoint, p)
    for (endpoint, version, group), (count, first, last) in counted.items():
        mine = [r["time_requested"].timestamp() for r in rows if (r["endpoint_id"], r["version_requested"],
                                                                   r["group_by"]) == (endpoint, version, group)]
        assert count == len(mine) and abs(first - min(mine)) < 1e-3 and abs(last - max(mine)) < 1e-3
    engine.dispose()


# ----------------------------------------------------------------- FMD's pages: stock vs ours

def fast():
    return "ok"


def slow(ms):
    time.sleep(ms / 1000)
    return "slow"


def boom():
    raise RuntimeError("a view that fails: FMD's own thread stores the request")


def missing():
    abort(404)


def as_json():
    return jsonify(ok=True)


def perf_app(path, **config) -> Flask:
    app = Flask("rollups_app", instance_path=str(path))
    app.config.update(SECRET_KEY="rollups-test-" + "k" * 32, PERF_STORE_DIR=str(path / "mon"),
                      PERF_MONITOR_PASSWORD=PASSWORD, PERF_TOOLBAR_ENABLED=False, PERF_VERSION="v3",
                      PERF_DASHBOARD_STACKS_PER_SECOND=0, PERF_DASHBOARD_STACKS_IN_FLIGHT=1000,  # every /slow profiled
                      PROPAGATE_EXCEPTIONS=False, **config)
    for rule, view in (("/fast", fast), ("/slow/<int:ms>", slow), ("/boom", boom), ("/missing", missing),
                       ("/json", as_json)):
        app.add_url_rule(rule, view.__name__.replace("as_", ""), view)  # real functions: level 3 reads their source
    FlaskPerf().init_app(app, profile="development")  # FMD level 3: stacks, and errors by FMD's threads
    return app


def traffic(app, rng) -> None:
    client = app.test_client()
    for _ in range(25):
        client.get(f"/slow/{rng.randint(1, 12)}")
        client.get(rng.choice(("/fast", "/json", "/missing")))
    for _ in range(4):
        assert client.get("/boom").status_code == 500
    flush_monitoring(app)
    engine = store_engine(f"sqlite:///{app.config['PERF_STORE_DIR']}/dashboard.db")
    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT name, id FROM Endpoint")).all())
    start = datetime.now(timezone.utc) - timedelta(days=20)
    rows = [{"endpoint_id": ids[name], "duration": rng.lognormvariate(2, 0.7),
             "ip": rng.choice(("127.0.0.1", "10.0.0.2", "10.0.0.3")),
             "group_by": rng.choice(("None", "run-1", "run-2")), "status_code": rng.choice((200, 200, 200, 503)),
             "version_requested": version, "time_requested": start + timedelta(days=5 * day, minutes=i)}
            for day, version in enumerate(("v1", "v2")) for name in ("fast", "slow", "json") for i in range(40)]
    with engine.begin() as conn:  # older versions, users and addresses, stored as the writer stores a batch
        conn.execute(insert(table("Request", *(column(name) for name in rows[0]))), rows)
        SOURCE(conn, rows)
        slow = conn.execute(text("SELECT id FROM Request WHERE endpoint_id = :e AND version_requested IN "
                                 "('v1', 'v2') ORDER BY id"), {"e": ids["slow"]}).scalars().all()
        conn.execute(text("INSERT INTO Outlier (request_id, request_header, request_environment, request_url, "
                          "cpu_percent, memory, stacktrace) VALUES (:r, 'Host: x', '{}', '/slow/3', :cpu, "
                          "'rss 80 MB', 'File \"x.py\"')"),
                     [{"r": r, "cpu": f"[{10 + i}.0, {50 - i}.5]"} for i, r in enumerate(slow[::9])])
    engine.dispose()


def login(client):
    page = client.get("/dashboard/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/dashboard/login", data={"name": "admin", "password": PASSWORD,
                                                 "csrf_token": token}).status_code == 302


def post(client, path, data):
    response = client.post(path, json={"data": data}, headers=SAME)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def stock(app, function, *args):
    """What FMD's own code answers, through Flask's JSON, like its view would."""
    from flask_monitoringdashboard.database import session_scope

    with app.test_request_context(), session_scope() as session:
        result = function(session, *args)
        if isinstance(result, list):  # query rows, which FMD's views turn into lists themselves
            result = [tuple(row) if isinstance(row, Row) else row for row in result]
        return json.loads(app.json.dumps(result))


def same_values(ours, theirs):
    """Representative values: ours are 10 quantiles, FMD's up to 100; compare at the same ranks."""
    ours, theirs = sorted(ours), sorted(theirs)
    assert len(ours) == min(10, len(theirs)) or len(theirs) > 10
    for i, value in enumerate(ours):
        exact = numpy.percentile(theirs, i * 100 // (len(ours) - 1)) if len(ours) > 1 else theirs[0]
        assert close(value, exact, 0.05), (i, value, exact)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    path = tmp_path_factory.mktemp("rollup-pages")
    app = perf_app(path)
    traffic(app, random.Random(11))
    client = app.test_client()
    login(client)
    return app, client


def test_the_overview_has_the_stock_shape_exact_hits_and_medians_within_5_percent(recorded):
    from flask_monitoringdashboard.controllers.endpoints import get_endpoint_overview

    app, client = recorded
    theirs = {row["name"]: row for row in stock(app, get_endpoint_overview)}  # first: it flushes FMD's cache
    ours = {row["name"]: row for row in client.get("/dashboard/api/overview").get_json()}
    assert ours.keys() == theirs.keys() >= {"fast", "slow", "boom", "missing", "json"}
    for name, row in theirs.items():
        assert ours[name].keys() == row.keys()
        for key, value in row.items():
            if key.startswith("median"):
                assert close(ours[name][key], value), (name, key)
            else:
                assert ours[name][key] == value, (name, key)
    assert ours["boom"]["hits-today-errors"] == 4 and ours["missing"]["hits-week-errors"] > 0


def test_errors_and_level_3_requests_are_in_the_rollups(recorded):
    app, _client = recorded
    with store_engine(f"sqlite:///{app.config['PERF_STORE_DIR']}/dashboard.db").connect() as conn:
        profiled = conn.execute(text("SELECT COUNT(DISTINCT request_id) FROM StackLine")).scalar()
        raw = dict(conn.execute(text("SELECT status_code / 100, COUNT(*) FROM Request GROUP BY 1")).all())
        rolled = dict(conn.execute(text("SELECT status_class, SUM(count) FROM fmd_rollup_hour GROUP BY 1")).all())
        total = conn.execute(select(func.sum(SUMMARY.c.count))).scalar()
    assert profiled > 0 and raw[5] > 4 and rolled == raw  # 4 by /boom, the others older 503s
    assert total == sum(raw.values())


def test_versions_are_listed_oldest_first_so_the_page_selects_the_newest(recorded):
    from flask_monitoringdashboard.database.versions import get_versions

    app, client = recorded
    ours = client.get("/dashboard/api/versions").get_json()
    theirs = stock(app, get_versions)
    assert [v["version"] for v in ours] == ["v1", "v2", "v3"]  # the page keeps the last ten
    assert sorted(map(tuple, theirs)) == sorted((v["version"], v["date"]) for v in ours)


def test_version_and_user_pages_match_the_stock_computation(recorded):
    from flask_monitoringdashboard.controllers import endpoints, versions
    from flask_monitoringdashboard.database.endpoint import get_endpoints_hits, get_users

    app, client = recorded
    with app.app_context():
        slow = next(r["id"] for r in client.get("/dashboard/api/overview").get_json() if r["name"] == "slow")
    names, all_versions = ["fast", "slow", "json", "boom"], ["v1", "v2", "v3"]
    ours = post(client, "/dashboard/api/multi_version", {"endpoints": names, "versions": all_versions})
    theirs = stock(app, versions.get_multi_version_data, names, all_versions)
    assert [pytest.approx(row) for row in theirs] == ours and ours[3][2] > 0  # shares of hits, exact
    users = [u["user"] for u in client.get(f"/dashboard/api/users/{slow}").get_json()]
    assert {u["user"]: u["hits"] for u in client.get(f"/dashboard/api/users/{slow}").get_json()} == \
        dict(map(tuple, stock(app, get_users, slow)))
    assert {e["name"]: e["hits"] for e in client.get("/dashboard/api/endpoints_hits").get_json()} == \
        dict(map(tuple, stock(app, get_endpoints_hits)))
    for path, function, key, chosen in (
            (f"/dashboard/api/endpoint_versions/{slow}", endpoints.get_endpoint_versions, "versions", all_versions),
            (f"/dashboard/api/endpoint_users/{slow}", endpoints.get_endpoint_users, "users", users)):
        ours, theirs = post(client, path, {key: chosen}), stock(app, function, slow, chosen)
        assert [{k: v for k, v in row.items() if k != "values"} for row in ours] == \
            [{k: v for k, v in row.items() if k != "values"} for row in theirs]
        for mine, stock_row in zip(ours, theirs):
            same_values(mine["values"], stock_row["values"])
    ours = post(client, f"/dashboard/api/version_user/{slow}", {"versions": all_versions, "users": users})
    theirs = stock(app, versions.get_version_user_data, slow, all_versions, users)
    assert ours["versions"] == theirs["versions"]
    for mine, stock_row in zip(ours["data"], theirs["data"]):
        assert all(close(a, b) for a, b in zip(mine, stock_row)), (mine, stock_row)
    ours = post(client, "/dashboard/api/api_performance", {"endpoints": names})
    for mine, stock_row in zip(ours, stock(app, endpoints.get_api_performance, names)):
        assert mine["name"] == stock_row["name"]
        same_values(mine["values"], stock_row["values"])
    info = client.get(f"/dashboard/api/endpoint_info/{slow}").get_json()
    assert info["total_hits"] == dict(map(tuple, stock(app, get_endpoints_hits)))["slow"]


def test_hourly_load_daily_requests_and_the_endpoint_list_match_the_stock_computation(recorded):
    from flask_monitoringdashboard.controllers.requests import get_hourly_load, get_num_requests_data
    from flask_monitoringdashboard.database import row2dict
    from flask_monitoringdashboard.database.endpoint import get_endpoints

    app, client = recorded
    end = datetime.combine(datetime.now(timezone.utc).date(), datetime.min.time())
    start = end - timedelta(days=21)
    slow = next(e["id"] for e in client.get("/dashboard/api/endpoints").get_json() if e["name"] == "slow")
    day = "%Y-%m-%d"
    for path, function, args in (
            (f"hourly_load/{start:{day}}/{end:{day}}", get_hourly_load, (None, start, end)),
            (f"hourly_load/{start:{day}}/{end:{day}}/{slow}", get_hourly_load, (slow, start, end)),
            (f"requests/{start:{day}}/{end:{day}}", get_num_requests_data, (start, end))):
        ours = client.get(f"/dashboard/api/{path}").get_json()
        theirs = stock(app, function, *args)
        if "data" in ours and ours["data"] and isinstance(ours["data"][0], dict):  # per endpoint: any order
            ours["data"].sort(key=lambda e: e["name"])
            theirs["data"].sort(key=lambda e: e["name"])
        counted = sum(map(sum, (row if isinstance(row, list) else row["values"] for row in ours["data"])))
        assert ours == theirs and counted >= 80, path  # slow's 25 now and 80 older requests at least
    listed = client.get("/dashboard/api/endpoints").get_json()
    theirs = stock(app, lambda session: [row2dict(row) for row in get_endpoints(session)])
    assert sorted(listed, key=lambda e: e["id"]) == sorted(theirs, key=lambda e: e["id"])
    hits = dict(map(tuple, (e.values() for e in client.get("/dashboard/api/endpoints_hits").get_json())))
    assert [hits.get(e["name"], 0) for e in listed] == sorted((hits.get(e["name"], 0) for e in listed), reverse=True)


@pytest.mark.filterwarnings("ignore:Column-expression-level unary distinct:sqlalchemy.exc.SAWarning")  # FMD's
def test_the_ip_status_exception_outlier_and_profiler_tabs_match_the_stock_computation(recorded):
    from flask_monitoringdashboard.controllers import exceptions, outliers, profiler, requests, versions
    from flask_monitoringdashboard.database import count, endpoint, exception_occurrence, row2dict

    app, client = recorded
    api, ids = "/dashboard/api", {e["name"]: e["id"] for e in client.get("/dashboard/api/endpoints").get_json()}
    slow, boom = ids["slow"], ids["boom"]
    ips = client.get(f"{api}/ip/{slow}").get_json()
    assert {i["ip"]: i["hits"] for i in ips} == dict(map(tuple, stock(app, endpoint.get_ips, slow)))
    assert len(ips) == 3 and [i["hits"] for i in ips] == sorted((i["hits"] for i in ips), reverse=True)
    all_versions, addresses = ["v1", "v2", "v3"], [i["ip"] for i in ips] + ["10.9.9.9"]
    ours = post(client, f"{api}/version_ip/{slow}", {"versions": all_versions, "ip": addresses})
    theirs = stock(app, versions.get_version_ip_data, slow, all_versions, addresses)
    assert ours["versions"] == theirs["versions"] and ours["data"][-1] == [0, 0, 0]
    for mine, row in zip(ours["data"], theirs["data"]):
        assert all(close(a, b) for a, b in zip(mine, row)), (mine, row)
    for name in ("slow", "boom", "missing", "json"):  # 503s among the older rows, 404s, 500s
        ours = client.get(f"{api}/endpoint_status_code_summary/{ids[name]}").get_json()
        assert ours["distribution"] == pytest.approx(stock(app, requests.get_status_code_distribution, ids[name]))
        errors = stock(app, lambda s, i: [row2dict(r) for r in requests.get_error_requests(s, i)], ids[name])
        assert sorted(ours["error_requests"], key=lambda r: int(r["id"])) == sorted(errors, key=lambda r: int(r["id"]))
        assert [int(r["id"]) for r in ours["error_requests"]] == sorted((int(r["id"]) for r in errors), reverse=True)
    assert client.get(f"{api}/num_exceptions").get_json() == stock(app, exception_occurrence.count_grouped_exceptions)
    assert client.get(f"{api}/num_exceptions/{boom}").get_json() == \
        stock(app, exception_occurrence.count_endpoint_grouped_exceptions, boom) > 0
    listed = client.get(f"{api}/exception_occurrence/0/10").get_json()
    assert listed == stock(app, exceptions.get_exception_groups, 0, 10) and listed[0]["count"] == 4
    assert client.get(f"{api}/num_outliers/{slow}").get_json() == stock(app, count.count_outliers, slow) > 5
    cores = lambda graph: [{**core, "values": sorted(core["values"])} for core in graph]  # noqa: E731 - any order
    assert cores(client.get(f"{api}/outlier_graph/{slow}").get_json()) == \
        cores(stock(app, outliers.get_outlier_graph, slow))
    for offset in (0, 3):
        assert client.get(f"{api}/outlier_table/{slow}/{offset}/4").get_json() == \
            stock(app, outliers.get_outlier_table, slow, offset, 4)
    assert client.get(f"{api}/num_profiled/{slow}").get_json() == stock(app, count.count_profiled_requests, slow) > 4
    for offset in (0, 2):
        page = client.get(f"{api}/profiler_table/{slow}/{offset}/3").get_json()
        assert page == stock(app, profiler.get_profiler_table, slow, offset, 3) and len(page) == 3
        assert page[0]["stack_lines"] and page[0]["stack_lines"][0]["code"]["filename"]
    ours, theirs = (client.get(f"{api}/grouped_profiler/{slow}").get_json(),
                    stock(app, profiler.get_grouped_profiler, slow))
    assert len(ours) == len(theirs) > 1 and ours[0]["total_hits"] == theirs[0]["total_hits"] > 1
    for mine, row in zip(ours, theirs):
        assert mine == {k: pytest.approx(v) if isinstance(v, float) else v for k, v in row.items()}


def test_fmds_cache_starts_from_the_rollups_with_the_stock_numbers(recorded):
    from flask_monitoringdashboard.database.endpoint import get_endpoint_averages, get_endpoints_hits

    app, _client = recorded
    hits, theirs = stock(app, our_overview.cached_hits), stock(app, get_endpoints_hits)
    assert sorted(map(tuple, hits)) == sorted(map(tuple, theirs))
    averages = dict(map(tuple, stock(app, our_overview.cached_averages)))
    for name, average in stock(app, get_endpoint_averages):
        assert averages[name] == pytest.approx(average, rel=1e-9), name


def test_the_views_look_the_replacements_up(recorded):
    import flask_monitoringdashboard.views.endpoint as views

    assert views.get_endpoint_overview is our_overview.get_endpoint_overview


# ----------------------------------------------------------------- flask-profiler

def test_profiler_summary_timeseries_and_methods_count_exactly(store_url):
    from flask_perf.profiler.store import ProfilerStore

    store = ProfilerStore({"db_url": store_url})
    now, rng = time.time(), random.Random(5)
    for _ in range(900):  # three days back, across hours and days, through the store's writer
        started = now - rng.uniform(0, 3 * 86400)
        elapsed = rng.lognormvariate(-4, 1)
        store.insert({"startedAt": started, "endedAt": started + elapsed, "elapsed": elapsed, "args": [],
                      "kwargs": {}, "method": rng.choice(("GET", "POST")), "name": rng.choice(("/a", "/b/<x>"))})
    assert store.writer.flush()
    criteria = {"startedAt": str(now - 2 * 86400 - 1234.5), "endedAt": str(now + 1)}
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT method, name, started_at, elapsed FROM measurements WHERE "
                                 "started_at >= :s AND ended_at <= :e"),
                            {"s": float(criteria["startedAt"]), "e": float(criteria["endedAt"])}).all()
    groups: dict = {}
    for method, name, _started, elapsed in rows:
        groups.setdefault((method, name), []).append(elapsed)
    summary_rows = store.getSummary({**criteria, "sort": "count,desc"})
    assert {(r["method"], r["name"]): r["count"] for r in summary_rows} == {k: len(v) for k, v in groups.items()}
    for row in summary_rows:
        values = groups[(row["method"], row["name"])]
        assert row["minElapsed"] == pytest.approx(min(values)) and row["maxElapsed"] == pytest.approx(max(values))
        assert row["avgElapsed"] == pytest.approx(sum(values) / len(values))
    assert [r["count"] for r in summary_rows] == sorted((r["count"] for r in summary_rows), reverse=True)
    for interval, fmt in (("hourly", "%Y-%m-%d %H"), ("daily", "%Y-%m-%d")):
        expected: dict = {}
        for _m, _n, started, _e in rows:
            key = datetime.fromtimestamp(started).strftime(fmt)
            expected[key] = expected.get(key, 0) + 1
        assert store.getTimeseries({**criteria, "interval": interval}) == expected
    methods: dict = {}
    for method, *_rest in rows:
        methods[method] = methods.get(method, 0) + 1
    assert store.getMethodDistribution(criteria) == methods
    slow_only = store.getSummary({**criteria, "elapsed": "0.05"})  # a per-row filter: the raw rows
    assert sum(r["count"] for r in slow_only) == sum(e >= 0.05 for *_x, e in rows)
    store.engine.dispose()


# ----------------------------------------------------------------- upgrades

def test_a_store_written_before_rollups_keeps_every_count(tmp_path, monkeypatch):
    first = perf_app(tmp_path)
    first.test_client().get("/fast")
    flush_monitoring(first)
    url = f"sqlite:///{tmp_path / 'mon' / 'dashboard.db'}"
    engine = store_engine(url)
    with engine.begin() as conn:  # today's format: rows only, many of them, no rollup tables
        endpoint = conn.execute(text("SELECT id FROM Endpoint WHERE name = 'slow'")).scalar()
        conn.execute(text("INSERT INTO Request (endpoint_id, duration, time_requested, version_requested, "
                          "group_by, ip, status_code) VALUES (:e, :d, :t, :v, 'None', '127.0.0.1', 200)"),
                     [{"e": endpoint, "d": 1.0 + i % 97, "v": f"old-{i % 3}",
                       "t": (datetime.now(timezone.utc) - timedelta(minutes=i)).replace(tzinfo=None)}
                      for i in range(12_000)])
        for name in ("fmd_rollup_hour", "fmd_rollup_day", "fmd_rollup_summary", "perf_rollup_backfill"):
            conn.execute(text(f"DROP TABLE {name}"))
    profiler = store_engine(f"sqlite:///{tmp_path / 'mon' / 'profiler.db'}")
    now = time.time()
    with profiler.begin() as conn:
        conn.execute(text("INSERT INTO measurements (started_at, ended_at, elapsed, method, name) "
                          "VALUES (:s, :s + 0.01, 0.01, 'GET', :n)"),
                     [{"s": now - 60 * i, "n": f"/old/{i % 4}"} for i in range(3000)])
        for name in ("profiler_rollup_hour", "profiler_rollup_day", "perf_rollup_backfill"):
            conn.execute(text(f"DROP TABLE {name}"))
    app = perf_app(tmp_path, PERF_ROLLUP_BACKFILL_CHUNK=1000, PERF_ROLLUP_BACKFILL_PAUSE_S=0.2)
    client = app.test_client()
    started = time.monotonic()
    assert client.get("/fast").status_code == 200 and time.monotonic() - started < 2  # answers at once
    assert pending(engine, SOURCE)  # ... while the history is still being rolled up
    status = app.test_cli_runner().invoke(args=["perf", "status"])
    assert "rollups of dashboard: rolling up older rows" in status.output, status.output
    for _ in range(10):  # requests during the backfill: rolled up by the writer, not twice
        client.get("/slow/1")
    store = app.extensions["flask_perf"].profiler_store
    deadline = time.monotonic() + 60
    while (pending(engine, SOURCE) or not store.backfill.done) and time.monotonic() < deadline:
        time.sleep(0.2)
    flush_monitoring(app)
    with engine.connect() as conn:
        raw = dict(conn.execute(text("SELECT version_requested, COUNT(*) FROM Request GROUP BY 1")).all())
        rolled = {version: count for (version,), (count, _f, _l) in
                  summary(conn, SUMMARY, ("version_requested",)).items()}
        hourly = conn.execute(text("SELECT SUM(count) FROM fmd_rollup_hour")).scalar()
    assert rolled == raw and hourly == sum(raw.values()) and raw["old-0"] == 4000
    status = app.test_cli_runner().invoke(args=["perf", "status"])
    assert "rollups of dashboard: complete (12001 older rows rolled up)" in status.output, status.output
    assert "rollups of flask_profiler: complete (3001 older rows rolled up)" in status.output
    everything = {"startedAt": str(now - 4 * 86400), "endedAt": str(time.time() + 1)}
    counts = {row["name"]: row["count"] for row in store.getSummary(everything)}
    assert counts["/old/0"] == 750 and sum(counts.values()) == store.count()
    engine.dispose()
    profiler.dispose()


def rolled_up_store(tmp_path, rows: int = 500):
    """A store whose writer rolled up ``rows`` requests (two endpoints, three addresses)."""
    engine = store_engine(f"sqlite:///{tmp_path / 'dashboard.db'}")
    REQUEST.metadata.create_all(engine)
    SOURCE.create_schema(engine)
    writer = BatchWriter(engine, REQUEST, "layout-test", linger_s=0, on_batch=SOURCE)
    now = datetime.now(timezone.utc)
    for i in range(rows):
        writer.put({"endpoint_id": 1 + i % 2, "version_requested": "v1", "group_by": "None", "duration": 1.0 + i,
                    "ip": f"10.0.0.{i % 3}", "status_code": 200 if i % 5 else 404,
                    "time_requested": now - timedelta(minutes=i)})
    assert writer.flush()
    return engine


def test_a_release_that_adds_tiers_fills_them_alone_and_the_others_keep_their_history(tmp_path):
    engine = rolled_up_store(tmp_path)
    before = "fmd_rollup_hour,fmd_rollup_day,fmd_rollup_month,fmd_rollup_summary"
    with engine.begin() as conn:  # as the previous release left it: no IP or status tier ...
        conn.execute(text("UPDATE perf_rollup_backfill SET layout = :l"), {"l": before})
        conn.execute(text("DELETE FROM fmd_rollup_ip"))
        conn.execute(text("DELETE FROM fmd_rollup_status"))
        conn.execute(text("DELETE FROM Request WHERE id <= 200"))  # ... and retention took the oldest rows
    SOURCE.create_schema(engine)
    assert pending(engine, SOURCE)
    Backfill(f"sqlite:///{tmp_path / 'dashboard.db'}", SOURCE, chunk=120, pause_s=0).run()
    with engine.connect() as conn:
        hourly = conn.execute(text("SELECT SUM(count) FROM fmd_rollup_hour")).scalar()
        by_ip = dict(conn.execute(text("SELECT ip, SUM(count) FROM fmd_rollup_ip GROUP BY ip")).all())
        statuses = summary(conn, STATUSES, ("status_code",))
        layout = conn.execute(text("SELECT layout FROM perf_rollup_backfill")).scalar()
    assert hourly == 500  # the history of the tiers that were there stays
    assert sum(by_ip.values()) == 300 and set(by_ip) == {"10.0.0.0", "10.0.0.1", "10.0.0.2"}
    assert {code: n for (code,), (n, _f, _l) in statuses.items()} == {200: 240, 404: 60}
    assert layout.endswith(";fmd_rollup_ip,fmd_rollup_status")
    SOURCE.create_schema(engine)  # the next start: nothing to do
    assert not pending(engine, SOURCE)
    engine.dispose()


def test_a_release_that_removes_or_renames_a_tier_rebuilds_them_all_from_the_raw_rows(tmp_path):
    engine = rolled_up_store(tmp_path)
    with engine.begin() as conn:  # as an older release left it: other tiers, a month short
        conn.execute(text("UPDATE perf_rollup_backfill SET layout = 'fmd_rollup_hour,fmd_rollup_old'"))
        conn.execute(text("DELETE FROM fmd_rollup_month"))
    SOURCE.create_schema(engine)
    assert pending(engine, SOURCE)
    Backfill(f"sqlite:///{tmp_path / 'dashboard.db'}", SOURCE, chunk=120, pause_s=0).run()
    with engine.connect() as conn:
        found = cells(conn, SOURCE, ("endpoint_id",))
        hourly = conn.execute(text("SELECT SUM(count) FROM fmd_rollup_hour")).scalar()
        by_ip = conn.execute(text("SELECT SUM(count) FROM fmd_rollup_ip")).scalar()
    assert {k: c.count for k, c in found.items()} == {(1,): 250, (2,): 250} and hourly == by_ip == 500
    engine.dispose()


def test_the_profiled_requests_are_found_in_an_older_store_and_kept_in_step(store_url):
    from flask_perf.dashboard import profiled
    from flask_perf.dashboard.profiled import LINE, PROFILED, ProfiledBackfill

    engine = store_engine(store_url)
    REQUEST.metadata.create_all(engine)
    LINE.create(engine)
    now, made = datetime.now(timezone.utc).replace(tzinfo=None), {}

    def requests_with_stacks(first: int, n: int) -> None:
        made.update({first + i: 1 + i % 3 for i in range(n) if i % 4 == 0})  # profiled: id → endpoint
        with engine.begin() as conn:
            conn.execute(insert(REQUEST), [{"id": first + i, "endpoint_id": 1 + i % 3, "version_requested": "v1",
                                            "ip": "1.2.3.4", "duration": 5.0, "status_code": 200,
                                            "time_requested": now} for i in range(n)])
            conn.execute(insert(LINE), [{"request_id": first + i, "position": p, "indent": p, "code_id": 1,
                                         "duration": 1.0} for i in range(n) if i % 4 == 0 for p in range(3)])

    def listed() -> dict:
        with engine.connect() as conn:
            return dict(conn.execute(select(PROFILED.c.request_id, PROFILED.c.endpoint_id)).all())

    requests_with_stacks(1, 400)  # an older store: stacks, no triggers
    assert profiled.create(engine) and pending(engine, profiled.SOURCE)
    requests_with_stacks(401, 40)  # profiled after the triggers: they list them at once
    assert listed() == {i: e for i, e in made.items() if i > 400}
    ProfiledBackfill(store_url, profiled.SOURCE, chunk=70, pause_s=0).run()
    expected = dict(made)
    assert listed() == expected and len(expected) == 110 and not pending(engine, profiled.SOURCE)
    with engine.begin() as conn:  # retention drops the stacks of some requests: their rows go too
        conn.execute(LINE.delete().where(LINE.c.request_id <= 100))
    assert listed() == {i: e for i, e in expected.items() if i > 100}
    engine.dispose()


def test_workers_share_a_backfill_without_counting_a_row_twice(store_url):
    import threading

    engine = store_engine(store_url)
    REQUEST.metadata.create_all(engine)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with engine.begin() as conn:  # an older store: rows, no rollups
        conn.execute(insert(REQUEST), [{"endpoint_id": 1 + i % 3, "version_requested": f"v{i % 4}",
                                        "group_by": "None", "duration": 1.0 + i % 50, "status_code": 200,
                                        "time_requested": now - timedelta(minutes=i)} for i in range(3000)])
    SOURCE.create_schema(engine)
    workers = [Backfill(store_url, SOURCE, chunk=100, pause_s=0) for _ in range(3)]
    threads = [threading.Thread(target=worker.run) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not pending(engine, SOURCE)
    with engine.connect() as conn:
        counted = summary(conn, SUMMARY, ("endpoint_id",))
        done = conn.execute(text("SELECT rows_done FROM perf_rollup_backfill WHERE source = 'dashboard'")).scalar()
    assert {k: v[0] for k, v in counted.items()} == {(1,): 1000, (2,): 1000, (3,): 1000} and done == 3000
    engine.dispose()


def test_an_end_in_whole_seconds_covers_that_second(store_url):
    """The page asks up to ``moment().unix()``: a request that ended 0.7 s into that
    second is listed (it used to be hidden until the next second)."""
    from flask_perf.profiler.store import ProfilerStore

    store = ProfilerStore({"db_url": store_url})
    second = int(time.time()) - 5
    for offset in (0.7, 1.2):
        store.insert({"startedAt": second + offset - 0.01, "endedAt": second + offset, "elapsed": 0.01,
                      "args": [], "kwargs": {}, "method": "GET", "name": "/edge"})
    assert store.writer.flush()
    listed = store.filter({"startedAt": str(second - 60), "endedAt": str(second)})
    assert [round(row["endedAt"] - second, 3) for row in listed] == [0.7]
    exact = store.filter({"startedAt": str(second - 60), "endedAt": f"{second + 0.5}"})
    assert exact == []
    summary = store.getSummary({"startedAt": str(second - 60), "endedAt": str(second + 1)})
    assert [row["count"] for row in summary] == [2]
