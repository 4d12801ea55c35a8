"""Run EXPLAIN (and the re-run SELECT) of a recorded statement, dialect-aware.

Statements come as recorded by Flask-SQLAlchemy: DBAPI placeholders (``?`` on
SQLite, ``%(name)s`` on PyMySQL) and driver-level parameters, which are passed to
the driver bound, never pasted into the SQL text. Only a single SELECT is
accepted, and it runs in a transaction that is rolled back.
"""
from dataclasses import dataclass

EXPLAIN_PREFIX = {"sqlite": "EXPLAIN QUERY PLAN ", "mysql": "EXPLAIN ", "mariadb": "EXPLAIN ",
                  "postgresql": "EXPLAIN "}
MAX_ROWS = 500


class NotExplainable(ValueError):
    """The statement is not a single SELECT (or the dialect has no EXPLAIN here)."""


@dataclass
class ResultTable:
    sql: str
    parameters: object
    headers: list[str]
    rows: list[tuple]
    truncated: bool = False


def check_select(statement: str) -> str:
    """``statement`` stripped, or NotExplainable when it is not one SELECT."""
    text = (statement or "").strip().rstrip(";").strip()
    if not text.lower().startswith(("select", "with")) or ";" in text:
        raise NotExplainable("only a single SELECT statement can be explained or re-run")
    return text


def driver_parameters(parameters):
    """One parameter set in the shape the driver expects (recorded ones may be a list of sets)."""
    if isinstance(parameters, list) and parameters and isinstance(parameters[0], (list, tuple, dict)):
        if len(parameters) != 1:
            raise NotExplainable("an executemany statement cannot be explained")
        parameters = parameters[0]
    if isinstance(parameters, list):
        parameters = tuple(parameters)
    return parameters if parameters else None


def explain_sql(dialect_name: str, statement: str) -> str:
    try:
        return EXPLAIN_PREFIX[dialect_name] + check_select(statement)
    except KeyError:
        raise NotExplainable(f"no EXPLAIN support for the {dialect_name} dialect") from None


def run_statement(engine, sql: str, parameters) -> ResultTable:
    params = driver_parameters(parameters)
    with engine.connect() as conn:  # leaving without commit rolls back
        result = conn.exec_driver_sql(sql, params) if params is not None else conn.exec_driver_sql(sql)
        headers = list(result.keys())
        rows = [tuple(row) for row in result.fetchmany(MAX_ROWS + 1)]
    return ResultTable(sql, params, headers, rows[:MAX_ROWS], truncated=len(rows) > MAX_ROWS)


def explain(engine, statement: str, parameters) -> ResultTable:
    """The plan of ``statement`` on ``engine``."""
    return run_statement(engine, explain_sql(engine.dialect.name, statement), parameters)


def select(engine, statement: str, parameters) -> ResultTable:
    """``statement`` re-run (first MAX_ROWS rows)."""
    return run_statement(engine, check_select(statement), parameters)
