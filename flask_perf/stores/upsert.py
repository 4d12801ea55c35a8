"""An INSERT that merges into the existing row: counts and sums added, min and max kept.

SQLite and PostgreSQL: ``INSERT … ON CONFLICT (primary key) DO UPDATE``; MariaDB and
MySQL: ``INSERT … ON DUPLICATE KEY UPDATE``. ``merge`` maps each value column to
"sum", "min" or "max"; one statement per table and dialect, built once.
"""
from sqlalchemy import Table, func

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
