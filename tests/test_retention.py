"""Retention: old and surplus rows pruned from every store, dependents included."""
import sqlite3
import time

import pytest

from tests.conftest import SMALL
from tests.support import flush_monitoring
from flask_perf.stores.retention import prune
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
