"""Every query the /dashboard and /flask-profile pages run on a store uses an index.

A store with a few thousand generated rows (benchmarks/history_store.py: load tests at
level 3, test-suite runs, profiler rows) is written without flask_perf's indexes, as an
older release left it; the app's first start adds them. Then every API call behind the
pages goes through the test client while a listener captures the SQL the store engines
run, and each SELECT is EXPLAINed on the same store: no plan reads ``Request``,
``StackLine`` or ``measurements`` by a full table scan, on SQLite and MariaDB.
"""
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
WATCHED = {"Request", "StackLine", "measurements"}
# FMD 5.1's grouped profiler joins its 100 newest profiled requests after two LEFT JOINs;
# SQLite never moves a table across a LEFT JOIN, so it walks all of Request whatever the
# indexes (11.5 s at 5M rows). No index can fix the statement; replacing it can, and then
# it no longer runs here.
UNFIXABLE_BY_INDEX = {"sqlite": ('LEFT OUTER JOIN "CodeLine" AS "CodeLine_1" ON "CodeLine_1".id = '
                                 '"StackLine_1".code_id, (SELECT DISTINCT "StackLine".request_id AS id',)}
pytestmark = pytest.mark.filterwarnings(  # FMD's grouped profiler query (its code, not ours)
    "ignore:Column-expression-level unary distinct:sqlalchemy.exc.SAWarning")


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def store_urls(request, tmp_path):
    if request.param == "sqlite":
        return default_urls(str(tmp_path / "mon"))
    create = request.getfixturevalue("mariadb_database")
    return {name: create() for name in ("dashboard", "profiler", "slow_queries")}


# SQLite's planner rightly scans a table of a few thousand rows where a store of months
# needs its index (FMD's grouped profiler flips at ~40k requests): its store gets more.
ROWS = {"sqlite": 80_000, "mysql": 5_000}


def captured_page_sql(make_app, tmp_path, urls) -> dict[str, list]:
    """store URL → [(page, statement, parameters)] of every SELECT the pages ran."""
    app = make_app("testing", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_MONITOR_PASSWORD=PASSWORD,
                   PERF_DASHBOARD_DATABASE_URL=urls["dashboard"], PERF_PROFILER_DATABASE_URL=urls["profiler"],
                   PERF_SLOW_QUERY_DATABASE_URL=urls["slow_queries"], PERF_PRUNE_INTERVAL_S=0,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}")
    client = app.test_client()
    login(client, "admin", PASSWORD)
    stores = {str(make_url(url)): url for url in urls.values()}
    seen: dict[str, list] = {url: [] for url in urls.values()}
    page = ["?"]

    def capture(conn, _cursor, statement, parameters, _context, executemany):
        url = stores.get(str(conn.engine.url))
        if url and not executemany and statement.lstrip().upper().startswith("SELECT"):
            seen[url].append((page[0], statement, parameters))

    calls = page_calls(client)
    event.listen(Engine, "before_cursor_execute", capture)
    try:
        for call in calls:
            page[0] = f"{call.page}: {call.method} {call.path.split('?')[0]}"
            response = send(client, call, "admin", PASSWORD)
            assert response.status_code == 200, (page[0], response.get_data(as_text=True)[:300])
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
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
    problems = []
    for url, statements in seen.items():
        engine = store_engine(url)
        known = UNFIXABLE_BY_INDEX.get(engine.dialect.name, ())
        try:
            for page, statement, parameters in statements:
                scans, plan = full_scans(engine, statement, parameters)
                if scans and not any(marker in statement for marker in known):
                    problems.append(f"{page}: full scan of {scans}\n  {' '.join(statement.split())}"
                                    f"\n  {parameters}\n  plan: {plan}")
        finally:
            engine.dispose()
    assert not problems, "\n".join(problems)


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
