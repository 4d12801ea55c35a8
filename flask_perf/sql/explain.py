"""Run EXPLAIN (and the re-run SELECT) of a recorded statement, dialect-aware.

Statements come as recorded by Flask-SQLAlchemy: DBAPI placeholders (``?`` on
SQLite, ``%(name)s`` on PyMySQL) and driver-level parameters, which are passed to
the driver bound, never pasted into the SQL text. Only a single statement that
reads is accepted, and it runs on a read-only connection, rolled back (readonly.py).
"""
import re
import time
from dataclasses import dataclass, field

from flask_perf.sql.index_hints import IndexHint, hint_for
from flask_perf.sql.readonly import NotExplainable, check_select, read_only  # noqa: F401 - re-exported

EXPLAIN_PREFIX = {"sqlite": "EXPLAIN QUERY PLAN ", "mysql": "EXPLAIN ", "mariadb": "EXPLAIN ",
                  "postgresql": "EXPLAIN "}
MAX_ROWS = 500


@dataclass
class ResultTable:
    sql: str
    parameters: object
    headers: list[str]
    rows: list[tuple]
    truncated: bool = False


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
    with read_only(engine) as conn:
        result = conn.exec_driver_sql(sql, params) if params is not None else conn.exec_driver_sql(sql)
        headers = list(result.keys())
        rows = [tuple(row) for row in result.fetchmany(MAX_ROWS + 1)]
    return ResultTable(sql, params, headers, rows[:MAX_ROWS], truncated=len(rows) > MAX_ROWS)


def explain(engine, statement: str, parameters) -> ResultTable:
    """The plan of ``statement`` on ``engine``."""
    sql = explain_sql(engine.dialect.name, statement)
    if engine.dialect.name == "sqlite":
        # pysqlite caches prepared statements, and a prepared EXPLAIN keeps the plan of
        # the schema it was prepared on: an index created or dropped since would not show.
        sql += f" /* {time.monotonic_ns()} */"
    return run_statement(engine, sql, parameters)


def select(engine, statement: str, parameters) -> ResultTable:
    """``statement`` re-run (first MAX_ROWS rows)."""
    return run_statement(engine, check_select(statement), parameters)


@dataclass
class TableVerdict:
    """What the plan does with one table."""
    table: str
    full_scan: bool
    rows: int | None = None  # rows examined, where the dialect says
    access: str = ""  # the plan's own words: "ALL", "SCAN t", "ref", "SEARCH t USING INDEX ..."
    hint: IndexHint | None = None

    def describe(self) -> str:
        if not self.full_scan:
            return f"{self.table}: index used ({self.access})"
        rows = f", ~{self.rows} rows examined" if self.rows is not None else ""
        hint = f"; hint: {self.hint.create_sql}" if self.hint else ""
        return f"{self.table}: FULL SCAN{rows}{hint}"


@dataclass
class PlanVerdict:
    statement: str
    tables: list[TableVerdict] = field(default_factory=list)

    @property
    def full_scans(self) -> list[TableVerdict]:
        return [t for t in self.tables if t.full_scan]

    def summary(self) -> str:
        if not self.tables:
            return "no table access found in the plan"
        return "; ".join(t.describe() for t in self.tables)


SQLITE_ACCESS = re.compile(r"^(SCAN|SEARCH) (?:TABLE )?(\w+)(?: AS \w+)?(.*)$")


def analyze(dialect_name: str, statement: str, plan: ResultTable) -> PlanVerdict:
    """Per-table verdict of ``plan`` (an EXPLAIN of ``statement``) with index hints."""
    verdict = PlanVerdict(statement)
    if dialect_name == "sqlite":
        for row in plan.rows:
            match = SQLITE_ACCESS.match(str(row[-1]))
            if not match:
                continue
            kind, table, rest = match.groups()
            full = kind == "SCAN" and "USING" not in rest  # SCAN t USING COVERING INDEX is fine
            verdict.tables.append(TableVerdict(table, full, None, f"{kind} {table}{rest}"))
    elif dialect_name in ("mysql", "mariadb"):
        columns = [h.lower() for h in plan.headers]
        for row in plan.rows:
            values = dict(zip(columns, row))
            table = values.get("table")
            if not table or str(table).startswith("<"):
                continue  # derived tables and unions have no index to add
            full = str(values.get("type") or "").upper() == "ALL"
            rows = int(values["rows"]) if values.get("rows") is not None else None
            verdict.tables.append(TableVerdict(str(table), full, rows, str(values.get("type"))))
    for table in verdict.full_scans:
        table.hint = hint_for(statement, table.table)
    return verdict


def explain_and_analyze(engine, statement: str, parameters) -> PlanVerdict:
    return analyze(engine.dialect.name, statement, explain(engine, statement, parameters))


def compiled(engine, stmt) -> tuple[str, object]:
    """``stmt`` as the driver receives it: SQL with the dialect's placeholders, parameters."""
    compiled_stmt = stmt.compile(dialect=engine.dialect)
    params = compiled_stmt.params
    if compiled_stmt.positiontup is not None:
        return compiled_stmt.string, tuple(params[name] for name in compiled_stmt.positiontup)
    return compiled_stmt.string, params


_VERDICTS: dict[tuple, tuple[float, "PlanVerdict | None"]] = {}
VERDICT_TTL_S = 300


def cached_verdict(engine, statement: str, parameters) -> "PlanVerdict | None":
    """The verdict of ``statement``, EXPLAINed at most once per shape every VERDICT_TTL_S
    (None when it cannot be explained). For the slow-query log and the toolbar."""
    from flask_perf.sql.shapes import normalize

    key = (str(engine.url), normalize(statement))
    now = time.monotonic()
    hit = _VERDICTS.get(key)
    if hit and now - hit[0] < VERDICT_TTL_S:
        return hit[1]
    try:
        verdict = explain_and_analyze(engine, statement, parameters)
    except Exception:
        verdict = None
    if len(_VERDICTS) > 1000:
        _VERDICTS.clear()
    _VERDICTS[key] = (now, verdict)
    return verdict
