"""Retention: old and surplus rows pruned from every store, dependents included, in short
transactions; stacks kept as a sample, orphan endpoints dropped, rollups kept longer, files
shrunk; at the first request, and on demand."""
import contextlib
import glob
import os
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import MetaData, String, Table, event, text
from sqlalchemy.engine import Engine

from benchmarks.history_store import default_urls, grow
from flask_perf.stores.engines import store_engine
from flask_perf.stores.retention import prune
from tests.conftest import SMALL
from tests.support import flush_monitoring
from webapp.seed import seed


def counts(mon):
    with sqlite3.connect(mon / "dashboard.db") as fmd, sqlite3.connect(mon / "profiler.db") as fp:
        return (fmd.execute("SELECT COUNT(*) FROM Request").fetchone()[0],
                fmd.execute("SELECT COUNT(*) FROM StackLine").fetchone()[0],
                fp.execute("SELECT COUNT(*) FROM measurements").fetchone()[0])


def test_prune_by_rows_and_by_age(make_app, tmp_path):
    mon = tmp_path / "mon"
    app = make_app("development", PERF_STORE_DIR=str(mon), PERF_TOOLBAR_ENABLED=False,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}")
    with app.app_context():
        seed(SMALL, reset=True)
    client = app.test_client()
    for class_id in range(1, 11):
        client.get(f"/roster?class_id={class_id}")
    flush_monitoring(app)
    requests, stack_lines, measurements = counts(mon)
    assert requests == measurements == 10 and stack_lines > 0

    app.config["PERF_RETENTION_MAX_ROWS"] = 4
    deleted = prune(app)
    assert deleted["Request"] == 6 and deleted["measurements"] == 6
    requests, stack_lines_left, measurements = counts(mon)
    assert (requests, measurements) == (4, 4) and stack_lines_left < stack_lines
    with sqlite3.connect(mon / "dashboard.db") as fmd:
        orphans = fmd.execute("SELECT COUNT(*) FROM StackLine WHERE request_id NOT IN "
                              "(SELECT id FROM Request)").fetchone()[0]
    assert orphans == 0

    time.sleep(0.1)
    result = app.test_cli_runner().invoke(args=["perf", "prune", "--days", "0"])
    assert result.exit_code == 0 and "Request        4 rows deleted" in result.output
    assert counts(mon) == (0, 0, 0)


def test_prune_is_not_reachable_over_http(make_app, tmp_path):
    app = make_app("testing", PERF_STORE_DIR=str(tmp_path / "mon"))
    rules = [r.rule for r in app.url_map.iter_rules()]
    assert not [r for r in rules if "prune" in r and not r.startswith("/dashboard/database_pruning")]


@pytest.mark.mariadb
def test_prune_a_shared_mariadb_store(make_app, tmp_path, mariadb_database):
    """MariaDB quotes names with backticks: the same pruning, on shared stores."""
    from sqlalchemy import create_engine, text

    dashboard, profiler = mariadb_database(), mariadb_database()
    app = make_app("development", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_TOOLBAR_ENABLED=False,
                   PERF_DASHBOARD_DATABASE_URL=dashboard, PERF_PROFILER_DATABASE_URL=profiler,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}")
    with app.app_context():
        seed(SMALL, reset=True)
    client = app.test_client()
    for class_id in range(1, 8):
        assert client.get(f"/roster?class_id={class_id}").status_code == 200
    flush_monitoring(app)
    app.config["PERF_RETENTION_MAX_ROWS"] = 3
    deleted = prune(app)
    assert deleted["Request"] == 4 and deleted["measurements"] == 4
    for url, table in ((dashboard, "Request"), (profiler, "measurements")):
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text(f"SELECT COUNT(*) FROM `{table}`")).scalar_one() == 3
        engine.dispose()


# --------------------------------------------------------------------------- months of history

OLD_STORE_ENDPOINT = "school.legacy_list"  # benchmarks/history_store.REMOVED: a route since removed


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def history(request, make_app, tmp_path):
    """An app on stores holding 90 days of generated history (grown after the app started,
    so no rollup backfill is pending), and the store URLs."""
    mon = tmp_path / "mon"
    if request.param == "sqlite":
        urls = default_urls(str(mon))
    else:
        create = request.getfixturevalue("mariadb_database")
        urls = {name: create() for name in ("dashboard", "profiler", "slow_queries")}
    app = make_app("testing", PERF_STORE_DIR=str(mon), PERF_PRUNE_INTERVAL_S=0, PERF_PRUNE_CHUNK_ROWS=200,
                   PERF_STACKS_PER_VERSION=3, PERF_DASHBOARD_DATABASE_URL=urls["dashboard"],
                   PERF_PROFILER_DATABASE_URL=urls["profiler"], PERF_SLOW_QUERY_DATABASE_URL=urls["slow_queries"],
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}")
    grow(urls, requests=4000, days=90)
    return app, urls


def scalar(url, sql, **params):
    engine = store_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql.replace("`", engine.dialect.identifier_preparer.initial_quote)),
                                params).scalar()
    finally:
        engine.dispose()


@contextlib.contextmanager
def delete_transactions():
    """Every committed transaction that deleted: [(statement, number of ids bound)]."""
    open_, done = {}, []

    def execute(conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith("DELETE"):
            open_.setdefault(id(conn), []).append((statement, len(parameters)))

    def commit(conn):
        if id(conn) in open_:
            done.append(open_.pop(id(conn)))

    event.listen(Engine, "before_cursor_execute", execute)
    event.listen(Engine, "commit", commit)
    try:
        yield done
    finally:
        event.remove(Engine, "before_cursor_execute", execute)
        event.remove(Engine, "commit", commit)


def test_prune_deletes_in_short_transactions(history):
    app, urls = history
    month_ago = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=30)
    old = scalar(urls["dashboard"], "SELECT COUNT(*) FROM `Request` WHERE time_requested < :t", t=month_ago)
    assert old > 2000
    with delete_transactions() as transactions:
        deleted = prune(app)
    assert deleted["Request"] == old and deleted["measurements"] > 2000
    assert len(transactions) >= old // 200  # one short transaction per chunk, none for everything
    assert max(n for statements in transactions for _, n in statements) <= 200
    assert scalar(urls["dashboard"], "SELECT COUNT(*) FROM `Request` WHERE time_requested < :t", t=month_ago) == 0
    assert scalar(urls["profiler"], "SELECT COUNT(*) FROM measurements WHERE started_at < :t",
                  t=time.time() - 30 * 86400) == 0
    assert scalar(urls["dashboard"], "SELECT COUNT(*) FROM `StackLine` WHERE request_id NOT IN "
                                     "(SELECT id FROM `Request`)") == 0


def test_stacks_keep_a_sample_per_endpoint_and_version_and_orphan_endpoints_go(history):
    app, urls = history
    per_version = ("SELECT MAX(n) FROM (SELECT COUNT(DISTINCT s.request_id) AS n FROM `StackLine` s JOIN "
                   "`Request` r ON r.id = s.request_id GROUP BY r.endpoint_id, r.version_requested) AS counts")
    assert scalar(urls["dashboard"], per_version) > 3
    unrequested = "grading.job"  # a view of the app: kept without requests (FMD holds its id)
    engine = store_engine(urls["dashboard"])
    with engine.begin() as conn:
        q = engine.dialect.identifier_preparer.initial_quote
        ids = f"SELECT r.id FROM {q}Request{q} r JOIN {q}Endpoint{q} e ON e.id = r.endpoint_id WHERE e.name = :n"
        for child in ("StackLine", "Outlier", "ExceptionOccurrence"):  # MariaDB keeps the foreign keys
            conn.execute(text(f"DELETE FROM {q}{child}{q} WHERE request_id IN ({ids})"), {"n": unrequested})
        conn.execute(text(f"DELETE FROM {q}Request{q} WHERE endpoint_id = "
                          f"(SELECT id FROM {q}Endpoint{q} WHERE name = :n)"), {"n": unrequested})
        conn.execute(text(f"UPDATE {q}Endpoint{q} SET last_requested = NULL WHERE name = :n"), {"n": unrequested})
    engine.dispose()
    deleted = prune(app)
    assert deleted["Endpoint"] == 1
    assert scalar(urls["dashboard"], per_version) == 3
    # the sample was read from fmd_profiled (dashboard/profiled.py), whose triggers followed the deletes
    assert scalar(urls["dashboard"], "SELECT COUNT(*) FROM fmd_profiled") == \
        scalar(urls["dashboard"], "SELECT COUNT(DISTINCT request_id) FROM `StackLine`") > 0
    names = "SELECT COUNT(*) FROM `Endpoint` WHERE name = :n"
    assert scalar(urls["dashboard"], names, n=OLD_STORE_ENDPOINT) == 0
    assert scalar(urls["dashboard"], names, n=unrequested) == 1


def test_rollups_are_kept_longer_than_raw_rows(history):
    app, urls = history
    engine = store_engine(urls["dashboard"])
    now = int(time.time())
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE test_rollup_hour (endpoint_id INTEGER NOT NULL, period BIGINT NOT NULL, "
                          "count INTEGER, PRIMARY KEY (endpoint_id, period))"))
        conn.execute(text("INSERT INTO test_rollup_hour VALUES (:e, :p, 1)"),
                     [{"e": e, "p": now - days * 86400} for e in (1, 2) for days in (60, 399, 401, 700)])
    engine.dispose()
    assert prune(app)["test_rollup_hour"] == 4
    assert scalar(urls["dashboard"], "SELECT MIN(period) FROM test_rollup_hour") == now - 399 * 86400


def test_rows_a_backfill_has_not_rolled_up_stay(history):
    app, urls = history
    engine = store_engine(urls["dashboard"])
    progress = Table("perf_rollup_backfill", MetaData(), autoload_with=engine)  # stores/backfill.py's
    row = {c.name: "" if isinstance(c.type, String) else 0 for c in progress.columns if not c.nullable}
    with engine.begin() as conn:
        conn.execute(progress.insert().values({**row, "source": "pending", "low_id": 1, "high_id": 4000,
                                               "done_id": 100}))
    engine.dispose()
    assert prune(app)["Request"] == 100  # the rest is old too, but not rolled up yet


def test_pruned_files_shrink_and_a_store_made_before_incremental_vacuum_shrinks_with_vacuum(
        make_app, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    with sqlite3.connect(old / "profiler.db") as conn:  # as stores were created until now
        conn.execute("PRAGMA auto_vacuum=NONE")
        conn.execute("CREATE TABLE made_by_an_older_release (x)")
    new_urls, old_urls = default_urls(str(tmp_path / "new")), default_urls(str(old))
    apps = [make_app("testing", PERF_STORE_DIR=str(path), PERF_PRUNE_INTERVAL_S=0,
                     SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}") for path in (tmp_path / "new", old)]
    for urls in (new_urls, old_urls):
        grow(urls, requests=6000, days=90)

    def size(directory, name):
        return sum(os.path.getsize(p) for p in glob.glob(str(directory / f"{name}.db*")))

    before = {(d, n): size(d, n) for d in (tmp_path / "new", old) for n in ("dashboard", "profiler")}
    old_file = os.path.getsize(old / "profiler.db")
    for app in apps:
        prune(app)
    for name in ("dashboard", "profiler"):
        assert size(tmp_path / "new", name) < 0.6 * before[(tmp_path / "new", name)], name
        assert not os.path.exists(tmp_path / "new" / f"{name}.db-wal") or \
            os.path.getsize(tmp_path / "new" / f"{name}.db-wal") == 0  # checkpointed with TRUNCATE
    assert os.path.getsize(old / "profiler.db") >= old_file  # its free pages are only reused
    result = apps[1].test_cli_runner().invoke(args=["perf", "prune", "--vacuum"])
    assert result.exit_code == 0 and "vacuumed" in result.output, result.output
    assert size(old, "profiler") < 0.6 * before[(old, "profiler")]
    with sqlite3.connect(old / "profiler.db") as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental from now on


def test_the_first_request_starts_pruning_in_the_background(make_app, tmp_path):
    mon = tmp_path / "mon"
    app = make_app("testing", PERF_STORE_DIR=str(mon), PERF_PRUNE_INTERVAL_S=3600,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}")
    urls = default_urls(str(mon))
    grow(urls, requests=500, days=20, now=datetime.now(timezone.utc) - timedelta(days=40))
    with app.app_context():
        seed(SMALL, reset=True)
    assert app.test_client().get("/roster?class_id=1").status_code == 200
    deadline = time.monotonic() + 60
    while scalar(urls["profiler"], "SELECT COUNT(*) FROM measurements WHERE started_at < :t",
                 t=time.time() - 30 * 86400) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert scalar(urls["dashboard"], "SELECT COUNT(*) FROM `Request`") <= 1


def test_new_sqlite_stores_are_made_for_incremental_vacuum(make_app, tmp_path):
    mon = tmp_path / "mon"
    app = make_app("testing", PERF_STORE_DIR=str(mon), PERF_PRUNE_INTERVAL_S=0,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}")
    assert app.extensions["flask_perf"].tools
    for name in ("dashboard", "profiler", "slow_queries"):
        with sqlite3.connect(mon / f"{name}.db") as conn:
            assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2, name
