"""Months of monitoring history, generated: the rows a store collects, fast and in bulk.

``grow(urls, requests=N, days=90)`` fills the dashboard, flask-profiler and slow-query
stores the way real use does: load-test runs at level 3 (18 % of their requests
profiled, 17 stack lines each, a few outliers and exceptions, grouped by run id) under
weekly app versions, four test-suite runs a day under their own ``test-run`` labels,
one flask-profiler row per request, slow queries and N+1 findings. A few endpoints
exist only in the first weeks (routes since removed). Ids grow with time, as they do
when the writers insert. Rows go in with ``executemany`` in large transactions
through the DBAPI, so 5M requests take minutes, on SQLite and MariaDB alike.
Used by benchmarks/history.py and by the tests (thousands of rows).
"""
import json
import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from flask_perf.stores.engines import private_dir, store_engine

ENDPOINTS = (  # name, rule, method, weight, median ms
    ("school.roster", "/roster", "GET", 45, 16.0), ("school.my_class", "/my_class", "GET", 33, 7.0),
    ("school.index", "/", "GET", 6, 2.0), ("school.stats", "/stats", "GET", 5, 40.0),
    ("school.enroll", "/enrollments", "POST", 4, 12.0),
    ("school.unenroll", "/enrollments", "DELETE", 2, 9.0),
    ("grading.report", "/class_report", "GET", 3, 120.0),
    ("grading.enqueue", "/class_report/jobs", "POST", 1, 5.0),
    ("grading.job", "/class_report/jobs/<job_id>", "GET", 1, 3.0))
REMOVED = (("school.legacy_list", "/legacy", "GET", 2, 30.0),)  # requested in the first weeks only
LOADTEST_SHARE, PROFILED, STACK_LINES, OUTLIERS = 0.82, 0.18, 17, 0.004
CONTEXT = json.dumps({"url": "http://127.0.0.1/roster", "args": {"class_id": "17"}, "form": {},
                      "body": "", "headers": {"Host": "127.0.0.1", "User-Agent": "locust/2.47",
                                              "Accept": "*/*", "Cookie": "[redacted]"},
                      "func": "school.roster", "ip": "127.0.0.1"})
SLOW_SQL = ("SELECT students.id, students.name FROM students JOIN student_identifier ON "
            "students.id = student_identifier.student_id WHERE student_identifier.class_id = ?")
BATCH = 50_000


def default_urls(store_dir: str) -> dict[str, str]:
    """SQLite files in ``store_dir`` (created), named as flask_perf names them."""
    private_dir(store_dir, tighten=False)
    return {name: f"sqlite:///{store_dir}/{name}.db" for name in ("dashboard", "profiler", "slow_queries")}


def _schemas(urls):
    import flask_monitoringdashboard as fmd

    fmd.config.database_name = urls["dashboard"]  # FMD creates its engine at first import
    store_engine(urls["dashboard"], pooled=False).connect().close()  # the file as flask_perf makes it
    from flask_monitoringdashboard.database import Base

    from flask_perf.profiler.store import metadata as profiler_metadata
    from flask_perf.sql import nplusone  # noqa: F401 - adds query_finding to the metadata
    from flask_perf.sql.slow_queries import metadata as slow_metadata

    engines = {name: store_engine(url) for name, url in urls.items()}
    for name, metadata in (("dashboard", Base.metadata), ("profiler", profiler_metadata),
                           ("slow_queries", slow_metadata)):
        metadata.create_all(engines[name])
    return engines


class _Inserter:
    """executemany in big transactions through the raw DBAPI connection of one store."""

    def __init__(self, engine):
        self.engine, self.sqlite = engine, engine.dialect.name == "sqlite"
        self.conn = engine.raw_connection()
        self.pending: dict[str, list] = {}

    def when(self, moment: datetime):
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else moment.replace(tzinfo=None)

    def add(self, sql: str, row: tuple) -> None:
        rows = self.pending.setdefault(sql, [])
        rows.append(row)
        if len(rows) >= BATCH:
            self.commit()

    def commit(self) -> None:
        cursor = self.conn.cursor()
        if self.sqlite:  # store_engine's connections run in autocommit mode
            cursor.execute("BEGIN IMMEDIATE")
        for sql, rows in self.pending.items():
            if rows:
                cursor.executemany(sql if self.sqlite else sql.replace("?", "%s"), rows)
        cursor.execute("COMMIT")
        cursor.close()
        self.pending = {}

    def close(self) -> None:
        self.commit()
        self.conn.close()
        self.engine.dispose()


def _sql(table: str, columns: str, quote: str) -> str:
    names = [c.strip() for c in columns.split(",")]
    return (f"INSERT INTO {quote}{table}{quote} ({', '.join(names)}) "
            f"VALUES ({', '.join('?' for _ in names)})")


def _runs(rng, requests: int, days: float, now: datetime, version_every_days: float = 5):
    """(start, seconds, count, version, group) per run, oldest first, ``requests`` in all."""
    start = now - timedelta(days=days)
    loadtests, tests = max(1, round(days)), max(1, round(days * 4))
    runs = []
    for i in range(loadtests):
        when = start + timedelta(days=(i + rng.uniform(0.3, 0.7)) * days / loadtests)
        runs.append([when, 600.0, LOADTEST_SHARE / loadtests, _version(when, start, version_every_days),
                     f"loadtest-{when:%Y%m%dT%H%M%S}000000Z"])
    for i in range(tests):
        when = start + timedelta(days=(i + rng.uniform(0, 0.8)) * days / tests)
        version = _version(when, start, version_every_days)
        runs.append([when, 60.0, (1 - LOADTEST_SHARE) / tests,
                     f"{version} test-run {when:%Y-%m-%dT%H:%M:%SZ}", "None"])
    runs.sort()
    counts = [int(requests * run[2]) for run in runs]
    for i in range(requests - sum(counts)):
        counts[i % len(counts)] += 1
    return [(when, seconds, n, version, group)
            for (when, seconds, _, version, group), n in zip(runs, counts) if n], start


def _version(when: datetime, start: datetime, every_days: float) -> str:
    return f"0.1.0+g{int((when - start).total_seconds() // (every_days * 86400)):07x}"


INDENTS = (0, 1, 2, 3, 3, 4, 2, 3, 4, 4, 1, 2, 3, 2, 3, 4, 1)
SHARES = (1.0, 0.97, 0.6, 0.3, 0.2, 0.05, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.005, 0.002, 0.001, 0.001)


def grow(urls: dict[str, str], requests: int, days: float = 90, seed: int = 1,
         now: datetime | None = None, progress=None) -> dict[str, int]:
    """Add ``requests`` requests over the last ``days`` days to the stores at ``urls``
    (keys dashboard, profiler, slow_queries); rows added per table."""
    rng = random.Random(seed)
    now = now or datetime.now(timezone.utc)
    runs, start = _runs(rng, requests, days, now)
    engines = _schemas(urls)
    dash, prof, slow = (_Inserter(engines[n]) for n in ("dashboard", "profiler", "slow_queries"))
    q = engines["dashboard"].dialect.identifier_preparer.initial_quote
    ids = _Ids(engines, [e[0] for e in ENDPOINTS + REMOVED], start, dash, q)
    sql = {"request": _sql("Request", "id, endpoint_id, duration, time_requested, version_requested, "
                                      "group_by, ip, status_code", q),
           "stack": _sql("StackLine", "request_id, code_id, position, indent, duration", q),
           "outlier": _sql("Outlier", "request_id, request_header, request_environment, request_url, "
                                      "cpu_percent, memory, stacktrace", q),
           "exception": _sql("ExceptionOccurrence", "request_id, exception_type_id, exception_msg_id, "
                                                    "stack_trace_snapshot_id, is_user_captured", q),
           "measurement": _sql("measurements", "started_at, ended_at, elapsed, method, name, args, kwargs, "
                                               "context, app_version", q),
           "slow": _sql("slow_query", "recorded_at, endpoint, method, path, dialect, statement, parameters, "
                                      "duration_ms, app_version", q),
           "finding": _sql("query_finding", "recorded_at, endpoint, path, kind, shape, count, app_version", q)}
    counts = dict.fromkeys(("Request", "StackLine", "Outlier", "ExceptionOccurrence", "measurements",
                            "slow_query", "query_finding"), 0)
    removed_until = (start + timedelta(days=min(21, days / 4))).timestamp()
    current, old = _weights(ENDPOINTS), _weights(ENDPOINTS + REMOVED)
    request_id = ids.next_request
    for number, (when, seconds, n, version, group) in enumerate(runs):
        level3, t0 = group != "None", when.timestamp()
        for k in range(n):
            at = t0 + seconds * k / n
            names, cum = old if at < removed_until else current
            name, rule, method, _, median = names[_pick(cum, rng.random())]
            duration = median * rng.lognormvariate(0, 0.5)
            status = 200 if (r := rng.random()) > 0.02 else (404 if r > 0.005 else 500)
            moment = datetime.fromtimestamp(at, timezone.utc)
            dash.add(sql["request"], (request_id, ids.endpoint[name], duration, dash.when(moment), version,
                                      group, "127.0.0.1", status))
            counts["Request"] += 1
            if level3 and rng.random() < PROFILED:
                base = 1 + ids.code_lines * (ids.endpoint[name] % 3) // 3
                for position, (indent, share) in enumerate(zip(INDENTS, SHARES)):
                    dash.add(sql["stack"], (request_id, ids.code_base + (base + position) % ids.code_lines,
                                            position, indent, duration * share))
                counts["StackLine"] += STACK_LINES
            if level3 and rng.random() < OUTLIERS:
                dash.add(sql["outlier"], (request_id, "Host: 127.0.0.1\r\nUser-Agent: locust\r\n" * 4,
                                          "{'REQUEST_METHOD': 'GET', 'PATH_INFO': '" + rule + "'}" * 20,
                                          "http://127.0.0.1" + rule, "[35.0, 22.5]", "rss 180 MB",
                                          "File \"webapp/school/views.py\", line 42\n" * 20))
                counts["Outlier"] += 1
            if status == 500:
                dash.add(sql["exception"], (request_id, *ids.exception, False))
                counts["ExceptionOccurrence"] += 1
            prof.add(sql["measurement"], (at, at + duration / 1000, round(duration / 1000, 6), method, rule,
                                          "[]", "{}", CONTEXT, version[:64]))
            counts["measurements"] += 1
            if name == "school.roster" and rng.random() < 0.02:
                slow.add(sql["slow"], (at, name, method, rule, "sqlite", SLOW_SQL, "[17]",
                                       100 + duration * 5, version[:64]))
                counts["slow_query"] += 1
            request_id += 1
        if not level3:
            slow.add(sql["finding"], (t0 + seconds, "school.my_class", "/my_class", "n+1",
                                      "SELECT classes.id FROM classes WHERE classes.id = ?", 12, version[:64]))
            counts["query_finding"] += 1
        if progress and number % 20 == 0:
            progress(counts["Request"])
    for inserter in (dash, prof, slow):
        inserter.commit()
    ids.stamp_last_requested(dash)
    for inserter in (dash, prof, slow):
        inserter.close()
    return counts


def _weights(endpoints):
    cum, total = [], 0
    for endpoint in endpoints:
        total += endpoint[3]
        cum.append(total)
    return endpoints, [c / total for c in cum]


def _pick(cum, r: float) -> int:
    for i, c in enumerate(cum):
        if r < c:
            return i
    return len(cum) - 1


class _Ids:
    """The rows other rows point at: endpoints, code lines, one exception; the next request id."""

    def __init__(self, engines, names, start, dash: _Inserter, q: str):
        from flask_monitoringdashboard.database import CodeLine, Endpoint, Request

        self.code_lines = 60
        with engines["dashboard"].begin() as conn:
            known = {name: ident for name, ident in conn.execute(select(Endpoint.name, Endpoint.id))}
            for name in names:
                if name not in known:
                    known[name] = conn.execute(Endpoint.__table__.insert().values(
                        name=name, monitor_level=3, time_added=start.replace(tzinfo=None),
                        version_added="0.1.0+g0000000")).inserted_primary_key[0]
            self.code_base = (conn.execute(select(func.max(CodeLine.id))).scalar() or 0) + 1
            conn.execute(CodeLine.__table__.insert(), [
                {"id": self.code_base + i, "filename": f"webapp/school/module{i // 10}.py",
                 "line_number": 10 + i, "function_name": f"function_{i}", "code": f"result = step_{i}(data)"}
                for i in range(self.code_lines)])
            self.exception = _exception_rows(conn)
            self.next_request = (conn.execute(select(func.max(Request.id))).scalar() or 0) + 1
        self.endpoint = known
        self.q = q

    def stamp_last_requested(self, dash: _Inserter) -> None:
        cursor = dash.conn.cursor()
        q = self.q
        cursor.execute(f"UPDATE {q}Endpoint{q} SET last_requested = (SELECT MAX(time_requested) FROM "
                       f"{q}Request{q} WHERE endpoint_id = {q}Endpoint{q}.id)")
        if not dash.sqlite:
            dash.conn.commit()
        cursor.close()


def _exception_rows(conn) -> tuple[int, int, int]:
    from flask_monitoringdashboard.database import ExceptionMessage, ExceptionType, StackTraceSnapshot

    made = []
    for model, values in ((ExceptionType, {"type": "OperationalError"}),
                          (ExceptionMessage, {"message": "database is locked"}),
                          (StackTraceSnapshot, {"hash": f"{random.getrandbits(128):032x}"})):
        made.append(conn.execute(model.__table__.insert().values(**values)).inserted_primary_key[0])
    return tuple(made)
