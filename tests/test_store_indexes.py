"""Every query the /dashboard and /flask-profile pages run on a store uses an index.

A store with a few thousand generated rows (benchmarks/history_store.py: load tests at
level 3, test-suite runs, profiler rows) is written without flask_perf's indexes, as an
older release left it; the app's first start adds them (and rolls its history up).
Then every API call behind the pages goes through the test client -- and the report's
and retention's queries run -- while a listener captures the SQL the store engines
run, and each SELECT is EXPLAINed on the same store: no plan reads ``Request``,
``StackLine``, ``measurements`` or the big derived tables by a full table scan, on
SQLite and MariaDB. An older MariaDB profiler store gets DOUBLE time columns.
"""
import contextlib
import re
import time

import pytest
from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine, make_url

from benchmarks.history_pages import login, page_calls, send
from benchmarks.history_store import default_urls, grow
from flask_perf.stores import indexes
from flask_perf.stores.engines import store_engine

PASSWORD = "index-test-pw"
# Tables that grow with the requests. ExceptionOccurrence and Outlier are read whole on
# purpose (dashboard/occurrences.py: a few rows per thousand requests, each request then
# found by its primary key).
WATCHED = {"Request", "StackLine", "measurements", "fmd_profiled", "fmd_rollup_ip", "fmd_rollup_status"}


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def store_urls(request, tmp_path):
    if request.param == "sqlite":
        return default_urls(str(tmp_path / "mon"))
    create = request.getfixturevalue("mariadb_database")
    return {name: create() for name in ("dashboard", "profiler", "slow_queries")}


# SQLite's planner rightly scans a table of a few thousand rows where a store of months
# needs its index (FMD's grouped profiler flips at ~40k requests): its store gets more.
ROWS = {"sqlite": 80_000, "mysql": 5_000}


def started_app(make_app, tmp_path, urls):
    """The app on the grown stores once their history is rolled up (the pages read the rollups)."""
    app = make_app("testing", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_MONITOR_PASSWORD=PASSWORD,
                   PERF_DASHBOARD_DATABASE_URL=urls["dashboard"], PERF_PROFILER_DATABASE_URL=urls["profiler"],
                   PERF_SLOW_QUERY_DATABASE_URL=urls["slow_queries"], PERF_PRUNE_INTERVAL_S=0,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}")
    for backfill in app.extensions["flask_perf"].backfills.values():
        backfill.run()
    return app


@contextlib.contextmanager
def capturing(urls):
    """store URL → [(label, statement, parameters)] of every SELECT run on the stores meanwhile;
    ``label[0]`` names what runs."""
    stores = {str(make_url(url)): url for url in urls.values()}
    seen: dict[str, list] = {url: [] for url in urls.values()}
    label = ["?"]

    def capture(conn, _cursor, statement, parameters, _context, executemany):
        url = stores.get(str(conn.engine.url))
        if url and not executemany and statement.lstrip().upper().startswith("SELECT"):
            seen[url].append((label[0], statement, parameters))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        yield seen, label
    finally:
        event.remove(Engine, "before_cursor_execute", capture)


def captured_page_sql(make_app, tmp_path, urls) -> dict[str, list]:
    """store URL → [(page, statement, parameters)] of every SELECT the pages ran."""
    client = started_app(make_app, tmp_path, urls).test_client()
    login(client, "admin", PASSWORD)
    calls = page_calls(client)
    with capturing(urls) as (seen, page):
        for call in calls:
            page[0] = f"{call.page}: {call.method} {call.path.split('?')[0]}"
            response = send(client, call, "admin", PASSWORD)
            assert response.status_code == 200, (page[0], response.get_data(as_text=True)[:300])
    return seen


def full_scans(engine, statement: str, parameters) -> tuple[list[str], str]:
    """The watched tables this statement's plan reads without an index, and the plan."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            plan = [row[-1] for row in cursor.fetchall()]
            steps = [re.match(r"SCAN (\w+?)(?:_\d+)?$", step) for step in plan]
            return [m.group(1) for m in steps if m and m.group(1) in WATCHED], "; ".join(plan)
        cursor.execute("EXPLAIN " + statement, parameters)
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row)) for row in cursor.fetchall()]
        return ([re.sub(r"_\d+$", "", row["table"]) for row in rows
                 if row["type"] == "ALL" and re.sub(r"_\d+$", "", row["table"] or "") in WATCHED],
                "; ".join(f"{row['table']} {row['type']} {row['key']}" for row in rows))
    finally:
        raw.close()


def test_every_page_query_uses_an_index(make_app, tmp_path, store_urls):
    grow(store_urls, requests=ROWS[make_url(store_urls["dashboard"]).get_backend_name()], days=90)
    seen = captured_page_sql(make_app, tmp_path, store_urls)
    assert len(seen[store_urls["dashboard"]]) > 40 and len(seen[store_urls["profiler"]]) >= 4
    assert not plan_problems(seen), "\n".join(plan_problems(seen))


def test_the_reports_and_retentions_queries_use_an_index(make_app, tmp_path, store_urls):
    from flask_perf.report import runs
    from flask_perf.report.stack_sample import stack_bottlenecks
    from flask_perf.stores import dashboard_retention
    from flask_perf.stores.pruning import Chunks

    grow(store_urls, requests=ROWS[make_url(store_urls["dashboard"]).get_backend_name()], days=90)
    app, url = started_app(make_app, tmp_path, store_urls), store_urls["dashboard"]
    chunks = Chunks(store_engine(url, immediate=False), store_engine(url), rows=500)
    try:
        with capturing(store_urls) as (seen, label):
            label[0] = "flask perf report: stack sample"
            assert stack_bottlenecks(app, 20)
            label[0] = "test-run summary: labels, a run's requests"
            labels = runs.test_run_labels(url)
            assert len(labels) > 100 and sum(map(len, runs.version_stats(url, labels[:2]).values())) > 2
            label[0] = "retention: the stack sample"
            assert dashboard_retention.trim_stacks(chunks, 3) > 0
            label[0] = "retention: orphan endpoints"
            dashboard_retention.drop_orphan_endpoints(chunks, 30)
    finally:
        chunks.reader.dispose()
        chunks.writer.dispose()
    assert {"retention: the stack sample", "flask perf report: stack sample"} <= {row[0] for row in seen[url]}
    assert not plan_problems(seen), "\n".join(plan_problems(seen))


def plan_problems(seen: dict[str, list]) -> list[str]:
    problems = []
    for url, statements in seen.items():
        engine = store_engine(url)
        try:
            for page, statement, parameters in statements:
                scans, plan = full_scans(engine, statement, parameters)
                if scans:
                    problems.append(f"{page}: full scan of {scans}\n  {' '.join(statement.split())}"
                                    f"\n  {parameters}\n  plan: {plan}")
        finally:
            engine.dispose()
    return problems


def test_the_first_start_adds_the_indexes_to_an_older_store(make_app, tmp_path, store_urls):
    grow(store_urls, requests=200, days=10)
    expected = {"dashboard": indexes.DASHBOARD, "profiler": indexes.PROFILER,
                "slow_queries": indexes.SLOW_QUERIES}

    def names(url, specs):
        engine = store_engine(url)
        try:
            inspector = inspect(engine)
            return {ix["name"] for table in {s.table for s in specs} for ix in inspector.get_indexes(table)}
        finally:
            engine.dispose()

    assert "ix_perf_request_version" not in names(store_urls["dashboard"], indexes.DASHBOARD)
    make_app("testing", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_DASHBOARD_DATABASE_URL=store_urls["dashboard"],
             PERF_PROFILER_DATABASE_URL=store_urls["profiler"], PERF_PRUNE_INTERVAL_S=0,
             PERF_SLOW_QUERY_DATABASE_URL=store_urls["slow_queries"])
    for store, specs in expected.items():
        assert {s.name for s in specs} <= names(store_urls[store], specs), store
        engine = store_engine(store_urls[store])
        try:
            assert indexes.ensure_indexes(engine, specs) == []  # a second start creates nothing
        finally:
            engine.dispose()


def test_a_big_table_gets_its_indexes_in_the_background(tmp_path):
    urls = default_urls(str(tmp_path / "mon"))
    grow(urls, requests=300, days=10)
    engine = store_engine(urls["dashboard"])
    try:
        assert indexes.ensure_indexes(engine, indexes.DASHBOARD, background_rows=100, delay_s=0) == []
        deadline = time.monotonic() + 30
        while indexes._missing(engine, indexes.DASHBOARD) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not indexes._missing(engine, indexes.DASHBOARD)
    finally:
        engine.dispose()


@pytest.mark.mariadb
def test_an_older_mariadb_profiler_store_gets_double_time_columns(mariadb_database):
    from sqlalchemy import Column, Float, Integer, MetaData, String, Table, text

    from flask_perf.profiler.store import ProfilerStore
    from flask_perf.stores.column_types import narrow

    url = mariadb_database()
    engine = store_engine(url)
    old = Table("measurements", MetaData(), Column("id", Integer, primary_key=True),  # as before: FLOAT
                Column("started_at", Float, nullable=False), Column("ended_at", Float, nullable=False),
                Column("elapsed", Float, nullable=False), Column("method", String(16), nullable=False),
                Column("name", String(512), nullable=False), Column("app_version", String(64)))
    old.create(engine)
    with engine.begin() as conn:
        conn.execute(old.insert().values(started_at=1796000000.25, ended_at=1796000000.5, elapsed=0.25,
                                         method="GET", name="/old"))
    assert len(narrow(engine, "measurements", ("started_at", "ended_at", "elapsed"))) == 3
    store = ProfilerStore({"db_url": url})
    assert narrow(engine, "measurements", ("started_at", "ended_at", "elapsed")) == []
    exact = 1796000123.456789
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO measurements (started_at, ended_at, elapsed, method, name) "
                          "VALUES (:s, :s, 0.001, 'GET', '/new')"), {"s": exact})
        assert conn.execute(text("SELECT started_at FROM measurements WHERE name = '/new'")).scalar() == exact
        assert conn.execute(text("SELECT COUNT(*) FROM measurements")).scalar() == 2
    store.engine.dispose()
    engine.dispose()
