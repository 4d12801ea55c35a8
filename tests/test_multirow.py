"""The writers' SQLite batches as multi-row statements (flask_perf/stores/multirow.py).

What they store must be what SQLAlchemy's ``insert`` stores, row for row, and a batch
must run as a few statements: each statement run is a GIL hand-over the request threads
wait for.
"""
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import (Column, DateTime, Float, Integer, MetaData, String, Table, create_engine, event, func,
                        insert, select)

from flask_perf.stores.multirow import MAX_PARAMS, insert_rows
from flask_perf.stores.rollups import HISTOGRAM_MERGE, histogram_table, key
from flask_perf.stores.upsert import upsert_rows

metadata = MetaData()
OURS = Table("ours", metadata, Column("id", Integer, primary_key=True), Column("name", String(50)),
             Column("at", DateTime), Column("ms", Float), Column("code", Integer))
THEIRS = Table("theirs", metadata, *(Column(c.name, c.type, primary_key=c.primary_key) for c in OURS.c))
DEFAULTED = Table("defaulted", metadata, Column("id", Integer, primary_key=True), Column("name", String(50)),
                  Column("at", DateTime, default=datetime.now))
HOURLY = histogram_table(metadata, "hourly", [key("endpoint_id", Integer), key("version", String(20))])


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'rows.db'}")
    statements, sent = [], []  # every statement run, as SQLite starts it; and as sent, with its ?s
    event.listen(engine, "connect", lambda dbapi, _record: dbapi.set_trace_callback(statements.append))
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    metadata.create_all(engine)
    engine.statements, engine.sent = statements, sent
    yield engine
    engine.dispose()


def sample(count: int) -> list[dict]:
    start = datetime(2026, 11, 30, 23, 59, 58, 123456, tzinfo=timezone.utc)
    return [{"name": None if i % 7 == 0 else f"endpoint {i % 3} ' \" ?", "at": start + timedelta(microseconds=i * 3001),
             "ms": i / 3, "code": (200, 404, None)[i % 3]} for i in range(count)]


def test_rows_are_stored_as_sqlalchemy_stores_them_in_a_few_statements(engine):
    rows = sample(1000)  # 4 values a row: 249 rows a statement
    with engine.begin() as conn:
        del engine.statements[:], engine.sent[:]
        assert insert_rows(conn, OURS, rows)
        inserts = [sql for sql in engine.statements if sql.startswith("INSERT")]
        sent = list(engine.sent)
        conn.execute(insert(THEIRS), rows)
    assert len(inserts) == len(sent) == 10  # SQLite ran each statement once
    assert MAX_PARAMS // 4 == 249 and [sql.count("(?, ?, ?, ?)") for sql in sent] == [128] * 7 + [64, 32, 8]
    with engine.connect() as conn:
        ours, theirs = (conn.execute(select(table).order_by(table.c.id)).all() for table in (OURS, THEIRS))
    assert ours == theirs and len(ours) == 1000  # same values, types and order (ids follow the batch)
    raw = sqlite3.connect(engine.url.database)
    assert raw.execute("SELECT at, typeof(at) FROM ours WHERE id = 2").fetchone() == \
        raw.execute("SELECT at, typeof(at) FROM theirs WHERE id = 2").fetchone() == ("2026-11-30 23:59:58.126457", "text")


def test_rows_it_cannot_store_exactly_are_left_to_sqlalchemy(engine):
    with engine.begin() as conn:
        assert not insert_rows(conn, OURS, [{"name": "a", "ms": 1.0}, {"name": "b", "code": 3}])  # other keys
        assert not insert_rows(conn, OURS, [{"name": "a", "unknown": 1}])  # not a column
        assert not insert_rows(conn, DEFAULTED, [{"name": "a"}])  # `at` has a Python-side default
        assert insert_rows(conn, DEFAULTED, [{"name": "a", "at": datetime(2026, 1, 1)}])
        assert conn.execute(select(OURS)).all() == []


def test_upserts_merge_across_chunks_as_one_row_at_a_time_would(engine):
    batch = [(endpoint, "v1", 3600 * hour, 0, 2, 1, 2.0, 2.0, 2.0) for endpoint in range(40) for hour in range(10)]
    with engine.begin() as conn:
        del engine.statements[:]
        upsert_rows(conn, HOURLY, HISTOGRAM_MERGE, batch)  # 400 rows of 9 values: 6 × 64 + 16
        upsert_rows(conn, HOURLY, HISTOGRAM_MERGE, [(*row[:5], 2, 1.0, 0.5, 0.5) for row in batch])
        assert len([sql for sql in engine.statements if sql.startswith("INSERT")]) == 2 * 7
        stored = conn.execute(select(HOURLY.c["count", "total_ms", "min_ms", "max_ms"]).distinct()).all()
        assert stored == [(3, 3.0, 0.5, 2.0)]
        assert len(conn.execute(select(HOURLY)).all()) == 400


def test_batches_of_any_size_share_a_few_statements(engine):
    """pysqlite keeps each distinct statement it prepared (128 per connection), and one of
    hundreds of values weighs tens of KB: batches of every size from 1 to 300 rows must
    not make a statement each."""
    with engine.begin() as conn:
        del engine.sent[:]
        for size in range(1, 301):
            assert insert_rows(conn, OURS, sample(size))
        inserts = [sql for sql in engine.sent if sql.startswith("INSERT")]
        assert len(set(inserts)) == 8  # 1, 2, 4, … 128 rows
        assert conn.execute(select(func.count()).select_from(OURS)).scalar() == 300 * 301 // 2
