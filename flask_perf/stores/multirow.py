"""The writers' batches on SQLite as multi-row statements: one step per chunk, not per row.

pysqlite's ``executemany`` releases the GIL around each row's ``sqlite3_step`` and takes
it back after. A writer thread storing 500 rows that way hands the GIL to the request
thread and waits for it again hundreds of times a batch, and every hand-over costs the
request thread a wait and kernel time (``benchmarks/inprocess.py`` counts them). Here
a batch is ``INSERT … VALUES (…), (…), …`` in chunks of at most ``MAX_PARAMS`` bound
values (SQLite's limit before 3.32) and a power of two rows (``_chunks``), the same
statement with the same values: the rows, their order and their types do not change.
MariaDB and PostgreSQL keep the driver's ``executemany`` (PyMySQL already sends an
INSERT batch as one statement).

``insert_rows`` stores dict rows of a table the way SQLAlchemy's ``insert`` would (each
column's bind processor, e.g. SQLite's DATETIME strings) and says False when it cannot
(another dialect, rows with different keys, a column with a Python-side default
missing from them), so the caller uses SQLAlchemy's path. ``execute_rows`` runs a
compiled one-row statement (upsert.py's) over tuples.
"""
import functools
import itertools

from sqlalchemy import Table

MAX_PARAMS = 999


def insert_rows(conn, table: Table, rows: list[dict]) -> bool:
    """Insert ``rows`` into ``table`` in multi-row statements; False: not done, use SQLAlchemy."""
    if conn.dialect.name != "sqlite" or not rows:
        return False
    keys = rows[0].keys()
    plan = _insert_plan(table, tuple(keys), conn.dialect)
    if plan is None or any(row.keys() != keys for row in rows):
        return False
    sql, columns = plan
    values = [tuple([row[name] if processor is None else processor(row[name]) for name, processor in columns])
              for row in rows]
    execute_rows(conn, sql, len(columns), values)
    return True


def execute_rows(conn, sql: str, width: int, rows: list[tuple]) -> None:
    """``sql``: a one-row statement with ``width`` qmark parameters in its VALUES group."""
    if conn.dialect.name != "sqlite" or len(rows) < 2:
        conn.exec_driver_sql(sql, rows)
        return
    for start, count in _chunks(len(rows), max(1, MAX_PARAMS // width)):
        chunk = rows[start:start + count]
        conn.exec_driver_sql(_expanded(sql, width, count), tuple(itertools.chain.from_iterable(chunk)))


def _chunks(total: int, most: int):
    """(start, rows) of each statement: powers of two, the largest first. pysqlite keeps
    every distinct statement it prepared (up to 128 per connection), and a statement of
    hundreds of values weighs tens of KB: chunks of any size filled a worker with ~6 MB
    of them; this way a table has at most eight."""
    size, start = 1 << (most.bit_length() - 1), 0
    while start < total:
        while size > total - start:
            size >>= 1
        yield start, size
        start += size


@functools.lru_cache(maxsize=256)
def _expanded(sql: str, width: int, count: int) -> str:
    group = "(" + ", ".join("?" * width) + ")"
    if sql.count(group) != 1:
        raise ValueError(f"not a one-row statement with {width} parameters: {sql[:200]}")
    return sql.replace(group, ", ".join([group] * count))


@functools.lru_cache(maxsize=64)
def _insert_plan(table: Table, keys: tuple[str, ...], dialect):
    """(one-row INSERT, [(column, bind processor or None)]) for rows with ``keys``; None when
    a key is not a column or a column left out has a default SQLAlchemy would compute."""
    if any(key not in table.c for key in keys):
        return None
    if any((column.default is not None or column.onupdate is not None) and column.name not in keys
           for column in table.c):
        return None
    preparer = dialect.identifier_preparer
    sql = (f"INSERT INTO {preparer.format_table(table)} "
           f"({', '.join(preparer.format_column(table.c[key]) for key in keys)}) "
           f"VALUES ({', '.join('?' * len(keys))})")
    columns = [(key, table.c[key].type.dialect_impl(dialect).bind_processor(dialect)) for key in keys]
    return sql, columns
