"""MariaDB's FLOAT time columns of older stores, widened to DOUBLE.

SQLAlchemy's ``Float`` is MariaDB's 4-byte FLOAT: about 7 significant digits, so epoch
seconds come back rounded to a couple of minutes (and pruning windows, timeseries and
"newest first" drift with them). Tables flask_perf creates declare ``Double`` now; a
store created before keeps its FLOAT columns until ``widen_floats`` alters them (once:
the values already rounded stay rounded, new ones are exact). The ALTER copies the
table and holds writes meanwhile, so a table of more than ``background_rows`` rows is
widened by a daemon thread, like a big index (indexes.py). SQLite stores every REAL in
8 bytes: nothing to do there.
"""
import logging
import threading

from sqlalchemy import inspect, text

from flask_perf.stores.index_ddl import table_rows

logger = logging.getLogger("flask_perf")


def narrow(engine, table: str, columns) -> list[dict]:
    """The reflected ``columns`` of ``table`` that MariaDB/MySQL stores as 4-byte FLOAT."""
    if engine.dialect.name not in ("mysql", "mariadb") or table not in inspect(engine).get_table_names():
        return []
    with engine.connect() as conn:
        floats = {name for (name,) in conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() "
            "AND table_name = :t AND data_type = 'float'"), {"t": table})}
    return [c for c in inspect(engine).get_columns(table) if c["name"] in floats and c["name"] in columns]


def widen_floats(engine, table: str, columns, background_rows: int = 300_000) -> bool:
    """ALTER ``table``'s FLOAT ``columns`` to DOUBLE (keeping NULL / NOT NULL); True when
    there was something to widen. Never raises: a store it cannot alter keeps working."""
    try:
        found = narrow(engine, table, columns)
        if not found:
            return False
        quote = engine.dialect.identifier_preparer.quote
        statement = f"ALTER TABLE {quote(table)} " + ", ".join(
            f"MODIFY {quote(c['name'])} DOUBLE{'' if c['nullable'] else ' NOT NULL'}" for c in found)
        if table_rows(engine, table) > background_rows:
            threading.Thread(target=_alter, args=(engine, statement), name="flask-perf-widen", daemon=True).start()
        else:
            _alter(engine, statement)
        return True
    except Exception:
        logger.exception("flask_perf: could not widen the FLOAT columns of %s", table)
        return False


def _alter(engine, statement: str) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
        logger.info("flask_perf: %s", statement)
    except Exception:
        logger.exception("flask_perf: %s failed", statement)
