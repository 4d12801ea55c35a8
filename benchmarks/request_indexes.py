"""What the dashboard writer pays per stored request for the ``Request`` table's indexes.

    .venv/bin/python benchmarks/request_indexes.py [--rows 200000] [--batch 300]

A SQLite store as flask_perf opens it (WAL, synchronous=NORMAL) with FMD 5.1's
``Request`` columns gets ``--rows`` requests (20 endpoints, 4 addresses), then 24,000
more in ``--batch``-row transactions, as the writer thread inserts them; printed: the
CPU per inserted row (user + system: most of it is the index pages each commit writes
to the WAL) with no index, FMD's own two, and every ``Request`` index of
flask_perf/stores/indexes.py ``DASHBOARD``.
"""
import argparse
import random
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from flask_perf.stores.indexes import DASHBOARD  # noqa: E402

REQUEST = ('CREATE TABLE "Request" (id INTEGER PRIMARY KEY, endpoint_id INTEGER, duration FLOAT, '
           "time_requested DATETIME, version_requested VARCHAR(100), group_by VARCHAR(100), "
           "ip VARCHAR(100), status_code INTEGER)")
INSERT = ('INSERT INTO "Request" (endpoint_id, duration, time_requested, version_requested, group_by, ip, '
          "status_code) VALUES (?, ?, ?, ?, ?, ?, ?)")


def rows(rng: random.Random, start: int, n: int) -> list[tuple]:
    now = datetime(2026, 11, 30)
    return [(rng.randint(1, 20), rng.lognormvariate(1, 1), (now + timedelta(seconds=start + i)).isoformat(" "),
             "v1", "None", f"10.0.0.{rng.randint(1, 4)}", 200) for i in range(n)]


def cpu_per_row(indexes, existing: int, batch: int) -> float:
    rng = random.Random(1)
    conn = sqlite3.connect(Path(tempfile.mkdtemp()) / "dashboard.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(REQUEST)
    for spec in indexes:
        conn.execute(f'CREATE INDEX {spec.name} ON "Request" ({", ".join(spec.columns)})')
    conn.execute("BEGIN")
    conn.executemany(INSERT, rows(rng, 0, existing))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    new = rows(rng, existing, 24_000)
    started = time.process_time()
    for i in range(0, len(new), batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT, new[i:i + batch])
        conn.execute("COMMIT")
    return (time.process_time() - started) / len(new) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=300)
    args = parser.parse_args()
    request = [spec for spec in DASHBOARD if spec.table == "Request"]
    for label, indexes in (("no index", []), ("FMD's two", [s for s in request if s.name.startswith("ix_request_")]),
                           (f"all {len(request)} (stores/indexes.py)", request)):
        print(f"{label:<32} {cpu_per_row(indexes, args.rows, args.batch):6.1f} µs CPU per stored request")


if __name__ == "__main__":
    main()
