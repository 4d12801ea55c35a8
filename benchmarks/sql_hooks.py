"""What each way of seeing every SQL statement costs SQLAlchemy, per statement.

    .venv/bin/python benchmarks/sql_hooks.py [--statements 10000] [--repeat 7]

Runs ``SELECT ?`` with 1 (a cached compiled ``select``, rows fetched) on an in-memory
SQLite engine, once bare and once with each hook, and prints the CPU per
statement (the best of ``--repeat`` runs, so another process's burst does not
count) and the difference to bare. The hooks:

- ``cursor events``: ``before_cursor_execute`` + ``after_cursor_execute`` storing a
  timestamp on the execution context (the recorder before issue 16). Any connection
  event sets ``engine._has_events``, which also sends every ``begin``, ``commit``,
  ``execute`` … through the engine's event dispatch;
- ``cursor events, one``: ``after_cursor_execute`` alone (no duration: shown for
  the cost of ``_has_events`` itself);
- ``do_execute``: a dialect event that times the dialect's own ``do_execute``
  (sql/recording.py now): only ``dialect._has_events`` is set, one call per
  statement, and the connection's other paths stay as bare.
"""
import argparse
import statistics
import time
from time import perf_counter

from sqlalchemy import create_engine, event, literal, select

STATEMENT = select(literal(1))  # one bound parameter: the usual statement


def _before(conn, cursor, statement, parameters, context, executemany):
    context._t0 = perf_counter()


def _after(conn, cursor, statement, parameters, context, executemany):
    if perf_counter() - context._t0 > 0.1:
        print("slow")


def _after_only(conn, cursor, statement, parameters, context, executemany):
    return None


def _do_execute(cursor, statement, parameters, context):
    started = perf_counter()
    context.dialect.do_execute(cursor, statement, parameters, context)
    if perf_counter() - started > 0.1:
        print("slow")
    return True


HOOKS = {
    "bare": (),
    "cursor events": (("before_cursor_execute", _before), ("after_cursor_execute", _after)),
    "cursor events, one": (("after_cursor_execute", _after_only),),
    "do_execute": (("do_execute", _do_execute),),
}


def cpu_per_statement(hooks, statements: int) -> float:
    engine = create_engine("sqlite://")
    for name, fn in hooks:
        event.listen(engine, name, fn)
    for _ in range(200):  # compile cache, pool
        with engine.connect() as conn:
            conn.execute(STATEMENT).all()
    started = time.process_time()
    for _ in range(statements):  # as a request does: check out, execute, fetch, roll back, return
        with engine.connect() as conn:
            conn.execute(STATEMENT).all()
    return (time.process_time() - started) / statements * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statements", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    runs = {name: [] for name in HOOKS}
    for _ in range(args.repeat):  # interleaved: a burst of load hits every hook alike
        for name, hooks in HOOKS.items():
            runs[name].append(cpu_per_statement(hooks, args.statements))
    bare = min(runs["bare"])
    print(f"{'hook':<22} {'µs/statement':>13} {'vs bare':>9}   (best of {args.repeat}; median)")
    for name, values in runs.items():
        best = min(values)
        print(f"{name:<22} {best:>13.2f} {best - bare:>+9.2f}   ({statistics.median(values):.2f})")


if __name__ == "__main__":
    main()
