"""The statements indexes.py runs: CREATE with MariaDB's prefix lengths, a rebuild in one step.

``redefine`` rebuilds an index under its name on other columns (index_specs.py keeps
FMD's name on the columns the pages need) without a moment when the name is missing:
one transaction on SQLite (its DDL is transactional; a worker that waited for the lock
finds it done), one ``ALTER TABLE`` on MariaDB.
"""
from sqlalchemy import String, Text, text

from flask_perf.stores.index_specs import IndexSpec

MYSQL_PREFIX = 255  # characters of a TEXT / long VARCHAR column that MariaDB indexes


def table_rows(engine, table: str) -> int:
    """About how many rows ``table`` has, without counting them."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            quoted = engine.dialect.identifier_preparer.quote(table)
            return conn.exec_driver_sql(f"SELECT MAX(rowid) FROM {quoted}").scalar() or 0
        return conn.execute(text("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE "
                                 "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"), {"t": table}).scalar() or 0


def execute(connection, statement: str) -> list:
    cursor = connection.cursor()
    try:
        cursor.execute(statement)
        return cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()


def redefine(connection, engine, inspector, spec: IndexSpec) -> None:
    """The index named ``spec.name`` rebuilt on ``spec.columns`` in one step: no moment
    without it (FMD rebuilds its own at import when it misses the name)."""
    quote, create = engine.dialect.identifier_preparer.quote, create_sql(engine, inspector, spec)
    if engine.dialect.name != "sqlite":
        columns = create[create.index(" (") + 1:]
        execute(connection, f"ALTER TABLE {quote(spec.table)} DROP INDEX {quote(spec.name)}, "
                             f"ADD INDEX {quote(spec.name)} {columns}")
        return
    execute(connection, "BEGIN IMMEDIATE")  # DDL is transactional in SQLite
    try:
        found = tuple(row[2].lower() for row in execute(connection, f"PRAGMA index_info({quote(spec.name)})"))
        if found != tuple(c.lower() for c in spec.columns):  # another worker may have just done it
            execute(connection, f"DROP INDEX IF EXISTS {quote(spec.name)}")
            execute(connection, create)
        execute(connection, "COMMIT")
    except Exception:
        execute(connection, "ROLLBACK")
        raise


def create_sql(engine, inspector, spec: IndexSpec) -> str:
    quote = engine.dialect.identifier_preparer.quote
    columns = [quote(c) for c in spec.columns]
    if engine.dialect.name in ("mysql", "mariadb"):
        types = {c["name"]: c["type"] for c in inspector.get_columns(spec.table)}
        columns = [f"{quoted}({MYSQL_PREFIX})" if long_text(types.get(name)) else quoted
                   for name, quoted in zip(spec.columns, columns)]
    return f"CREATE INDEX IF NOT EXISTS {quote(spec.name)} ON {quote(spec.table)} ({', '.join(columns)})"


def long_text(column_type) -> bool:
    if isinstance(column_type, Text):
        return True
    return isinstance(column_type, String) and (column_type.length or 0) > MYSQL_PREFIX
