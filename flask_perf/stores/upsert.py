"""An INSERT that merges into the existing row: counts and sums added, min and max kept.

SQLite and PostgreSQL: ``INSERT … ON CONFLICT (primary key) DO UPDATE``; MariaDB and
MySQL: ``INSERT … ON DUPLICATE KEY UPDATE``. ``merge`` maps each value column to
"sum", "min" or "max"; one statement per table and dialect, built once. ``upsert_rows``
runs it compiled, through the driver with plain tuples (on SQLite as multi-row
statements: multirow.py): the writers roll up every batch they insert, and
SQLAlchemy's per-row parameter handling cost them about as much as the rollups' SQL itself.
"""
from sqlalchemy import Table, func

from flask_perf.stores.multirow import execute_rows

_statements: dict = {}


def upsert_statement(table: Table, dialect: str, merge: dict[str, str]):
    """INSERT that adds counts and sums to an existing row and keeps the min and max."""
    cache_key = (table, dialect)
    if cache_key in _statements:
        return _statements[cache_key]
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise NotImplementedError(f"rollups on {dialect}: no upsert")
    stmt = insert(table)
    mysql = dialect in ("mysql", "mariadb")
    new = stmt.inserted if mysql else stmt.excluded
    low, high = (func.min, func.max) if dialect == "sqlite" else (func.least, func.greatest)
    how = {"sum": lambda old, add: old + add, "min": low, "max": high}
    values = {name: how[op](table.c[name], new[name]) for name, op in merge.items()}
    if mysql:
        stmt = stmt.on_duplicate_key_update(values)
    else:
        stmt = stmt.on_conflict_do_update(index_elements=list(table.primary_key.columns), set_=values)
    _statements[cache_key] = stmt
    return stmt


_compiled: dict = {}


def upsert_rows(conn, table: Table, merge: dict[str, str], rows: list[tuple]) -> None:
    """``rows``: (primary key columns..., ``merge`` columns...) in that order."""
    dialect = conn.dialect
    cache_key = (table, dialect.name, dialect.paramstyle)
    if cache_key not in _compiled:
        names = [c.name for c in table.primary_key.columns] + list(merge)
        compiled = upsert_statement(table, dialect.name, merge).compile(dialect=dialect, column_keys=names)
        order = [names.index(n) for n in compiled.positiontup] if compiled.positional else None
        _compiled[cache_key] = (compiled.string, names, None if order == list(range(len(names))) else order)
    sql, names, order = _compiled[cache_key]
    if not dialect.positional:
        rows = [dict(zip(names, row)) for row in rows]
    elif order is not None:
        rows = [tuple([row[i] for i in order]) for row in rows]
    execute_rows(conn, sql, len(names), rows)  # SQLite: multi-row statements
