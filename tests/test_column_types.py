"""Time columns on MariaDB: DOUBLE for new stores, FLOAT columns of older stores widened.

MariaDB's FLOAT keeps ~7 significant digits: epoch seconds come back rounded by minutes.
"""
import pytest
from sqlalchemy import create_engine, inspect, text

from flask_perf.sql import slow_queries

pytestmark = pytest.mark.mariadb
EPOCH = 1_796_000_123.456789


def _types(engine, table: str) -> dict:
    return {c["name"]: type(c["type"]).__name__.upper() for c in inspect(engine).get_columns(table)}


def test_an_older_slow_query_table_is_widened_and_keeps_its_rows(make_app, mariadb_database):
    url = mariadb_database()
    engine = create_engine(url)
    with engine.begin() as conn:  # the table as a release before this one created it
        conn.execute(text(
            "CREATE TABLE slow_query (id INTEGER PRIMARY KEY AUTO_INCREMENT, recorded_at FLOAT NOT NULL, "
            "endpoint VARCHAR(128), method VARCHAR(8), path VARCHAR(512), dialect VARCHAR(32) NOT NULL, "
            "statement TEXT NOT NULL, parameters JSON, duration_ms FLOAT NOT NULL, app_version VARCHAR(64))"))
        conn.execute(text("INSERT INTO slow_query (recorded_at, dialect, statement, duration_ms) VALUES (:t, 'mysql', 'SELECT 1', 12.5)"),
                     {"t": EPOCH})
    assert _types(engine, "slow_query")["recorded_at"] == "FLOAT"

    app = make_app("testing", PERF_SLOW_QUERY_DATABASE_URL=url)
    try:
        types = _types(engine, "slow_query")
        assert types["recorded_at"] == "DOUBLE" and types["duration_ms"] == "DOUBLE"
        with engine.begin() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM slow_query")).scalar() == 1
            conn.execute(text("INSERT INTO slow_query (recorded_at, dialect, statement, duration_ms) "
                              "VALUES (:t, 'mysql', 'SELECT 2', 1.25)"), {"t": EPOCH})
            stored = conn.execute(text("SELECT recorded_at FROM slow_query WHERE statement = 'SELECT 2'")).scalar()
        assert stored == pytest.approx(EPOCH, abs=1e-3)  # FLOAT gave back ~1796000128
    finally:
        for writer in app.extensions["flask_perf"].writers.values():
            writer.close()
        engine.dispose()


def test_a_new_slow_query_table_is_created_with_double_columns(mariadb_database):
    engine = create_engine(mariadb_database())
    slow_queries.metadata.create_all(engine)
    types = _types(engine, "slow_query")
    assert types["recorded_at"] == "DOUBLE" and types["duration_ms"] == "DOUBLE"
    engine.dispose()
