"""What the dashboard writer thread pays per stored request, phase by phase, and what it
costs a request thread running beside it.

    .venv/bin/python benchmarks/writer_batch.py [--batches 30] [--sizes 125 500]

An app in the production profile (its dashboard store on SQLite, under a temporary
folder, 100,000 requests stored first) gets batches of level-1 items as
``level1.py``'s wrapper queues them. Per batch size, thread CPU per request (median
over the batches) of: ``prepare`` (the Request rows, FMD's duration cache),
``BEGIN IMMEDIATE``, the ``Request`` insert, the rollups (aggregate and six upserts)
and the commit -- the insert and the upserts as the writer runs them now
(``stores/multirow.py``: multi-row statements on SQLite) and as pysqlite's
``executemany`` runs them (a statement run per row). Then the hand-overs: a request
thread spinning in Python while the writer stores a batch each way, and the times it
had to wait for the GIL (voluntary context switches of that thread, from
``/proc/self/task``).
"""
import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.overhead import BENCH_SECRET_KEY, CONFIGS  # noqa: E402


def items(n: int) -> list[tuple]:
    """What level1.py's wrapper queues for ``n`` requests of two endpoints."""
    now = time.time()
    return [(1 + i % 2, ("school.roster", "school.my_class")[i % 2], now - 0.003 - i % 7 / 1000, now, 200,
             f"10.0.0.{i % 4}", None, "bench", None) for i in range(n)]


def executemany(per_row: bool):
    """The writer as it is, or (``per_row``) as it was: SQLAlchemy's insert and the upserts
    through the driver's ``executemany``."""
    if not per_row:
        return contextlib.nullcontext()
    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch("flask_perf.stores.writer.insert_rows", lambda *_args: False))
    stack.enter_context(mock.patch("flask_perf.stores.upsert.execute_rows",
                                   lambda conn, sql, _width, rows: conn.exec_driver_sql(sql, rows)))
    return stack


def phases(writer, size: int, batches: int, per_row: bool) -> dict[str, float]:
    from sqlalchemy import insert

    from flask_perf.stores import multirow

    times: dict[str, list] = {k: [] for k in ("prepare", "begin", "insert", "rollups", "commit")}
    with executemany(per_row):
        for _ in range(batches):
            clock = [time.thread_time()]

            def lap(name):
                clock.append(time.thread_time())
                times[name].append((clock[-1] - clock[-2]) / size * 1e6)

            rows = writer._prepared(items(size))
            lap("prepare")
            with writer.engine.connect() as conn:
                clock.append(time.thread_time())
                tx = conn.begin()
                lap("begin")
                if per_row:
                    conn.execute(insert(writer.table), rows)
                else:
                    assert multirow.insert_rows(conn, writer.table, rows)
                lap("insert")
                writer.on_batch(conn, rows)
                lap("rollups")
                tx.commit()
                lap("commit")
    return {k: statistics.median(v) for k, v in times.items()}


def voluntary_switches(tid: int) -> int:
    with open(f"/proc/self/task/{tid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("voluntary_ctxt_switches"))


def waits_beside(writer, size: int, batches: int, per_row: bool) -> float:
    """Times a Python-bound thread waited (context switches) per batch the writer stored."""
    done, counted = threading.Event(), {}

    def spin():
        tid = threading.get_native_id()
        before = voluntary_switches(tid)
        while not done.is_set():
            sum(range(200))
        counted["switches"] = voluntary_switches(tid) - before

    spinner = threading.Thread(target=spin)
    spinner.start()
    time.sleep(0.1)
    with executemany(per_row):
        for _ in range(batches):
            writer._write(writer._prepared(items(size)))
    done.set()
    spinner.join()
    return counted["switches"] / batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--sizes", type=int, nargs="+", default=[125, 500])
    parser.add_argument("--history", type=int, default=100_000, help="requests stored before measuring")
    args = parser.parse_args()
    os.environ.update(CONFIGS["production"])
    from webapp import create_app

    folder = Path(tempfile.mkdtemp(prefix="writer-batch-"))
    app = create_app(None, {"INSTANCE_PATH": str(folder), "SECRET_KEY": BENCH_SECRET_KEY,
                            "PERF_MONITOR_PASSWORD": "benchmark-only-password",
                            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'school.db'}"})
    writer = app.extensions["flask_perf"].writers["dashboard"]
    with app.test_request_context():
        import flask_monitoringdashboard.database as fmd_db

        for name in ("school.roster", "school.my_class"):
            with fmd_db.session_scope() as session:
                fmd_db.endpoint.get_endpoint_by_name(session, name)
    for _ in range(args.history // 1000):
        writer._write(writer._prepared(items(1000)))
    print(f"store: {folder / 'dashboard.db'}, {args.history:,} requests before; thread CPU µs per request "
          "(median of the batches)")
    for size in args.sizes:
        for per_row in (True, False):
            cost = phases(writer, size, args.batches, per_row)
            label = "executemany (a step per row)" if per_row else "multi-row statements (now)"
            print(f"batch {size:4} {label:30} " + "  ".join(f"{k} {v:5.1f}" for k, v in cost.items())
                  + f"  total {sum(cost.values()):5.1f}")
        for per_row in (True, False):
            label = "executemany" if per_row else "multi-row"
            print(f"batch {size:4} {label:12} a Python thread beside the writer waited "
                  f"{waits_beside(writer, size, max(5, args.batches // 3), per_row):6.1f} times per batch")


if __name__ == "__main__":
    main()
