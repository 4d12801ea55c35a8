"""Which kind of bottleneck an endpoint has: DB, I/O or CPU, from its profiles.

Pure functions over two kinds of profile:
- a cProfile ``pstats.Stats`` (werkzeug's ``.prof`` files): every function's own time
  is split by the share of its calls made with a DB-driver frame on the stack (DB),
  with a socket/select/ssl wait on the stack but no DB driver (I/O), or neither (CPU).
  pstats keeps caller→callee edges, not whole stacks, so that share is propagated
  from callers weighted by the time of each edge (as gprof2dot does);
- Flask-MonitoringDashboard's level-3 rows of one request (``StackLine`` joined with
  ``CodeLine``): each row's time minus its callees' is attributed the same way, here
  exactly, since every row knows its path.

A driver's own socket waits (PyMySQL reading a MariaDB answer) count as DB time.
"""
import re
from dataclasses import dataclass
from typing import Iterable, NamedTuple

KINDS = ("db", "io", "cpu")
NAMES = {"db": "DB", "io": "socket waits", "cpu": "CPU"}
VERDICTS = {"db": "DB-bound", "io": "I/O-bound", "cpu": "CPU-bound"}
REMEDIES = {
    "db": "index the query (flask explain, flask db indexes) or read from a replica",
    "io": "move the call to a background job, give it a timeout, cache its answers",
    "cpu": "move the work to a background job or use a better algorithm",
}

# cProfile names C functions '~' + "<method 'execute' of 'sqlite3.Cursor' objects>" etc.
_DB_BUILTIN = re.compile(r"<method '\w+' of 'sqlite3\.\w+' objects>|<built-in method _sqlite3\.")
_DB_PACKAGES = re.compile(r"[/\\](pymysql|MySQLdb|psycopg2?|mysql[/\\]connector)[/\\]")
# SQLAlchemy's DBAPI call sites: the Python frames nearest to sqlite3 in a sampled stack.
_DB_CALL_SITES = {("engine/default.py", "do_execute"), ("engine/default.py", "do_executemany"),
                  ("engine/default.py", "do_execute_no_params"), ("engine/cursor.py", "fetchone"),
                  ("engine/cursor.py", "fetchmany"), ("engine/cursor.py", "fetchall")}
_IO_BUILTIN = re.compile(r"<method '\w+' of '(_socket\.socket|_ssl\._SSLSocket|select\.\w+)' objects>"
                         r"|<built-in method (select\.select|_socket\.\w+)>")
_IO_MODULES = re.compile(r"[/\\](socket|ssl|selectors)\.py$")
# FMD's sampler also records its own threads starting (under its wrapper): not the endpoint's.
_SAMPLER = re.compile(r"flask_monitoringdashboard[/\\]core[/\\]profiler[/\\]")


def frame_kind(filename: str, function: str) -> str | None:
    """'db' for a database-driver frame, 'io' for a socket/select/ssl wait, else None."""
    if filename == "~":
        if _DB_BUILTIN.search(function):
            return "db"
        return "io" if _IO_BUILTIN.search(function) else None
    path = filename.replace("\\", "/")
    if _DB_PACKAGES.search(path) or any(path.endswith("sqlalchemy/" + site) and function == name
                                        for site, name in _DB_CALL_SITES):
        return "db"
    return "io" if _IO_MODULES.search(path) else None


@dataclass(frozen=True)
class Shares:
    """Seconds of profiled time per kind, summed over ``profiles`` profiles."""
    db: float = 0.0
    io: float = 0.0
    cpu: float = 0.0
    profiles: int = 1

    def __add__(self, other: "Shares") -> "Shares":
        return Shares(self.db + other.db, self.io + other.io, self.cpu + other.cpu,
                      self.profiles + other.profiles)

    @property
    def total(self) -> float:
        return self.db + self.io + self.cpu

    @property
    def kind(self) -> str:
        return max(KINDS, key=lambda k: getattr(self, k))

    @property
    def verdict(self) -> str:
        return VERDICTS[self.kind]

    @property
    def remedy(self) -> str:
        return REMEDIES[self.kind]

    def percents(self) -> dict[str, int]:
        """Whole percentages per kind that add up to 100 (largest remainder)."""
        if self.total <= 0:
            return dict.fromkeys(KINDS, 0)
        exact = {k: getattr(self, k) / self.total * 100 for k in KINDS}
        result = {k: int(v) for k, v in exact.items()}
        for k in sorted(KINDS, key=lambda k: exact[k] - result[k], reverse=True)[:100 - sum(result.values())]:
            result[k] += 1
        return result

    def summary(self) -> str:
        """E.g. ``I/O-bound: 91 % socket waits, 5 % DB, 4 % CPU``."""
        percents = self.percents()
        parts = [f"{percents[k]} % {NAMES[k]}"
                 for k in sorted(KINDS, key=lambda k: (k != self.kind, -getattr(self, k)))]
        return f"{self.verdict}: {', '.join(parts)}"


def classify_profile(stats) -> Shares:
    """Shares of a ``pstats.Stats`` (one ``.prof`` file or several merged)."""
    entries = stats.stats  # (file, line, name) → (cc, calls, own, cumulative, callers)
    kinds = {func: frame_kind(func[0], func[2]) for func in entries}
    under_db = _share_under(entries, {f for f, k in kinds.items() if k == "db"})
    under_any = _share_under(entries, {f for f, k in kinds.items() if k})
    db = io = cpu = 0.0
    for func, (_cc, _calls, own, _cum, _callers) in entries.items():
        db += own * under_db[func]
        io += own * max(0.0, under_any[func] - under_db[func])
        cpu += own * max(0.0, 1 - under_any[func])
    return Shares(db, io, cpu)


def _share_under(entries: dict, marked: set) -> dict:
    """Per function, the share of its time spent with a ``marked`` function on the stack."""
    share = {func: 1.0 if func in marked else 0.0 for func in entries}
    weights = {func: _caller_weights(entry[4]) for func, entry in entries.items() if func not in marked}
    order = [f for f in _callers_first(entries) if f in weights and weights[f]]
    for _ in range(50):  # one pass is exact without recursion; cycles need a few
        changed = 0.0
        for func in order:
            total = sum(weights[func].values())
            new = sum(w * share.get(c, 0.0) for c, w in weights[func].items()) / total if total else 0.0
            changed = max(changed, abs(new - share[func]))
            share[func] = new
        if changed < 1e-9:
            break
    return share


def _caller_weights(callers: dict) -> dict:
    """Caller → time spent in the callee when called from it (its call count if no time)."""
    weights = {}
    for caller, edge in callers.items():
        if isinstance(edge, tuple):
            weights[caller] = edge[3] if edge[3] > 0 else edge[1] * 1e-9
        else:  # old pstats: a call count
            weights[caller] = edge * 1e-9
    return weights


def _callers_first(entries: dict) -> list:
    """Functions in reverse DFS post-order of the call graph: callers before callees."""
    callees: dict = {func: [] for func in entries}
    for func, entry in entries.items():
        for caller in entry[4]:
            callees.setdefault(caller, []).append(func)
    seen, postorder = set(), []
    roots = [f for f, entry in entries.items() if not entry[4]] + list(entries)
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(callees.get(root, ())))]
        while stack:
            func, children = stack[-1]
            for child in children:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(callees.get(child, ()))))
                    break
            else:
                stack.pop()
                postorder.append(func)
    return postorder[::-1]


class StackRow(NamedTuple):
    """One FMD level-3 row: indent (0 = the view's header lines), duration (inclusive)."""
    indent: int
    duration: float
    filename: str
    function: str


def classify_stack(rows: Iterable[StackRow]) -> Shares:
    """Shares of one request's level-3 rows, in FMD's order (``StackLine.position``).

    A row's duration includes the rows below it with a deeper indent (its callees);
    its own time is attributed to DB if a DB frame is on its path, else to I/O if a
    socket/ssl/selectors frame is, else to CPU. Rows of FMD's sampler starting its
    threads are left out. Durations are FMD's milliseconds; the shares are seconds.
    """
    totals = dict.fromkeys(KINDS + ("sampler",), 0.0)
    open_rows: list[list] = []  # [indent, duration, callee time, kind of its path]

    def close(row):
        totals[row[3]] += max(0.0, row[1] - row[2])

    for row in rows:
        if row.indent < 1:
            continue
        while open_rows and open_rows[-1][0] >= row.indent:
            close(open_rows.pop())
        parent_kind = open_rows[-1][3] if open_rows else "cpu"
        if open_rows:
            open_rows[-1][2] += row.duration
        own_kind = "sampler" if _SAMPLER.search(row.filename) else frame_kind(row.filename, row.function)
        kind = next((k for k in ("sampler", "db", "io") if k in (parent_kind, own_kind)), "cpu")
        open_rows.append([row.indent, row.duration, 0.0, kind])
    while open_rows:
        close(open_rows.pop())
    return Shares(totals["db"] / 1000, totals["io"] / 1000, totals["cpu"] / 1000)
