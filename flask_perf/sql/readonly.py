"""What the SQL views may run, and the read-only connection they run it on.

Two lines of defence for EXPLAIN and the re-run SELECT (toolbar links, the slow-query
verdicts). ``check_select`` accepts one statement that reads: it starts with SELECT
or WITH, has no ``;`` before its end, and, outside string literals, quoted names and
comments, no word that writes, locks or leaves the database (INSERT, UPDATE, DELETE,
MERGE, REPLACE INTO, CREATE, DROP, ALTER, TRUNCATE, ATTACH, PRAGMA, INTO OUTFILE,
LOAD_FILE ...): the old prefix check let ``WITH x AS (...) DELETE ...`` through.
And ``read_only`` gives a connection on which the database itself refuses writes,
whatever got past the check: SQLite ``PRAGMA query_only`` (needed: pysqlite opens a
transaction only before statements that *start* with INSERT/UPDATE/DELETE, so a
``WITH ... DELETE`` was autocommitted and the promised rollback undid nothing;
switched back off before the connection returns to the pool), MySQL/MariaDB
``START TRANSACTION READ ONLY``, PostgreSQL ``SET TRANSACTION READ ONLY``; rolled
back in every case. The drivers run one statement per call (pysqlite refuses more,
PyMySQL is not in multi-statement mode).
"""
import contextlib
import re

WRITING_WORDS = frozenset({
    "insert", "update", "delete", "merge", "upsert", "create", "drop", "alter", "truncate",
    "attach", "detach", "pragma", "vacuum", "reindex", "grant", "revoke", "call", "exec",
    "execute", "handler", "lock", "unlock", "rename", "into", "outfile", "dumpfile",
    "load_file", "copy", "do",
})
# Literals, quoted identifiers and comments, skipped by the word check: read once as
# standard SQL ('' escapes a quote) and once as MySQL (\' too); both readings must pass.
_QUOTED = r"""'(?:[^'{b}]|''{e})*'|"(?:[^"{b}]|""{e})*"|`(?:[^`]|``)*`|--[^\n]*|/\*.*?\*/"""
SKIPPED = (re.compile(_QUOTED.format(b="", e=""), re.S),
           re.compile(_QUOTED.format(b=r"\\", e=r"|\\."), re.S))
UNCLOSED = re.compile(r"""['"`]|/\*""")
WORD = re.compile(r"[a-z_][a-z0-9_$]*")


class NotExplainable(ValueError):
    """The statement is not a single SELECT (or the dialect has no EXPLAIN here)."""


def _refuse(reason: str) -> NotExplainable:
    return NotExplainable(f"only a single SELECT statement can be explained or re-run ({reason})")


def check_select(statement) -> str:
    """``statement`` stripped, or NotExplainable when it is not one statement that only reads."""
    if not isinstance(statement, str):
        raise _refuse("not SQL text")
    text = statement.strip().rstrip(";").strip()
    for skipped in SKIPPED:
        _check_code(skipped.sub(" ", text).lower())
    return text


def _check_code(code: str) -> None:
    if UNCLOSED.search(code):
        raise _refuse("an unclosed quote or comment")
    words = WORD.findall(code)
    if not words or words[0] not in ("select", "with"):
        raise _refuse("it does not start with SELECT or WITH")
    if ";" in code:
        raise _refuse("more than one statement")
    writing = sorted(set(words) & WRITING_WORDS)
    if re.search(r"\breplace\s+into\b", code):
        writing.append("replace")
    if writing:
        raise _refuse(f"it contains {writing[0].upper()}")


@contextlib.contextmanager
def read_only(engine):
    """A connection of ``engine`` on which the database refuses writes; rolled back after."""
    dialect = engine.dialect.name
    with engine.connect() as conn:  # leaving without commit rolls back
        conn.execution_options(flask_perf_internal=True)  # not listed in the toolbar's SQL panel
        if dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA query_only = ON")
            try:
                yield conn
            finally:
                try:
                    conn.exec_driver_sql("PRAGMA query_only = OFF")  # the pool reuses it
                except Exception:
                    conn.invalidate()  # never hand a read-only connection back to the app
        elif dialect in ("mysql", "mariadb"):
            conn.exec_driver_sql("START TRANSACTION READ ONLY")
            yield conn
        elif dialect == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            yield conn
        else:
            raise NotExplainable(f"no read-only mode for the {dialect} dialect")
