"""DB / I/O / CPU classification on real profiles: a socket read, SQL queries, pure Python."""
import cProfile
import http.client
import http.server
import pstats
import sqlite3
import threading
import time

import pymysql
import pytest
from sqlalchemy.engine import make_url

from flask_perf.report.classify import Shares, StackRow, classify_profile, classify_stack, frame_kind
from webapp.school.stats import class_similarity

SLOW_MS = 200  # the local service's answer time: long next to the client's own work


def profiled(tmp_path, name, function, *args):
    """Run ``function`` under cProfile, save the ``.prof`` file like werkzeug does, load it."""
    profile = cProfile.Profile()
    profile.runcall(function, *args)
    path = tmp_path / f"{name}.prof"
    profile.dump_stats(path)
    return path


def classify(*paths) -> Shares:
    return classify_profile(pstats.Stats(*map(str, paths)))


class SlowHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(SLOW_MS / 1000)  # the remote side's work, in the server's thread
        body = b'{"grade": 87}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def slow_service():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()
    thread.join()


def fetch_grade(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/grades/7")
        return conn.getresponse().read()
    finally:
        conn.close()


@pytest.fixture
def big_sqlite(tmp_path):
    """A 300,000-row table without an index: aggregating it takes SQLite a while."""
    path = tmp_path / "big.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE enrollment (student_id INTEGER, class_id INTEGER)")
        conn.execute("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000) "
                     "INSERT INTO enrollment SELECT x, (x * 7919) % 1000 FROM n")
    conn.close()
    return path


def class_sizes(path):
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT class_id, COUNT(*), SUM(student_id % 7) FROM enrollment "
                            "WHERE student_id % 3 <> 0 GROUP BY class_id ORDER BY 2 DESC").fetchall()
    finally:
        conn.close()
    return rows


def similarity_of_a_class():
    students = list(range(1, 101))
    enrollments = [(s, (s * k * 31) % 120) for s in students for k in range(1, 11)]
    return class_similarity(students, enrollments)


def test_a_socket_wait_is_io(tmp_path, slow_service):
    shares = classify(profiled(tmp_path, "socket", fetch_grade, slow_service))
    assert shares.kind == "io"
    assert shares.io / shares.total > 0.8
    assert shares.summary().startswith("I/O-bound: ")
    assert "background job" in shares.remedy and "timeout" in shares.remedy


def test_an_unindexed_sqlite_query_is_db(tmp_path, big_sqlite):
    path = profiled(tmp_path, "sqlite", class_sizes, big_sqlite)
    assert len(class_sizes(big_sqlite)) == 1000  # the query did real work
    shares = classify(path)
    assert shares.kind == "db" and shares.db / shares.total > 0.8
    assert shares.io == 0
    assert "index" in shares.remedy and "replica" in shares.remedy


@pytest.mark.mariadb
def test_the_drivers_own_socket_waits_are_db(tmp_path, mariadb_database):
    url = make_url(mariadb_database())

    def slow_query():
        conn = pymysql.connect(host=url.host, port=url.port, user=url.username, password="",
                               database=url.database)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT SLEEP(%s)", (SLOW_MS / 1000,))
                return cursor.fetchall()
        finally:
            conn.close()

    shares = classify(profiled(tmp_path, "pymysql", slow_query))
    assert shares.kind == "db" and shares.db / shares.total > 0.8
    assert shares.io / shares.total < 0.05  # PyMySQL waited on its socket: that is DB time


def test_pure_python_work_is_cpu(tmp_path):
    shares = classify(profiled(tmp_path, "cpu", similarity_of_a_class))
    assert shares.kind == "cpu" and shares.cpu / shares.total > 0.95
    assert shares.db == 0 and shares.io == 0
    assert "algorithm" in shares.remedy


def test_merged_profiles_keep_each_ones_time(tmp_path, slow_service, big_sqlite):
    paths = [profiled(tmp_path, "socket", fetch_grade, slow_service),
             profiled(tmp_path, "sqlite", class_sizes, big_sqlite),
             profiled(tmp_path, "cpu", similarity_of_a_class)]
    alone = [classify(p) for p in paths]
    merged = classify(*paths)
    stats = pstats.Stats(*map(str, paths))
    assert merged.total == pytest.approx(stats.total_tt)
    for kind in ("db", "io", "cpu"):
        assert getattr(merged, kind) == pytest.approx(sum(getattr(s, kind) for s in alone), rel=0.02)


def test_frame_kinds():
    assert frame_kind("~", "<method 'execute' of 'sqlite3.Cursor' objects>") == "db"
    assert frame_kind("~", "<method 'fetchall' of 'sqlite3.Cursor' objects>") == "db"
    assert frame_kind("/v/lib/python3.11/site-packages/pymysql/connections.py", "_read_bytes") == "db"
    assert frame_kind("/v/site-packages/sqlalchemy/engine/default.py", "do_execute") == "db"
    assert frame_kind("/v/site-packages/sqlalchemy/engine/default.py", "_execute_context") is None
    assert frame_kind("~", "<method 'recv_into' of '_socket.socket' objects>") == "io"
    assert frame_kind("~", "<method 'poll' of 'select.poll' objects>") == "io"
    assert frame_kind("~", "<built-in method _socket.getaddrinfo>") == "io"
    assert frame_kind("/usr/lib/python3.11/socket.py", "readinto") == "io"
    assert frame_kind("~", "<built-in method builtins.sorted>") is None
    assert frame_kind("/work/webapp/school/stats.py", "classes_of") is None


def test_summary_names_the_dominant_kind_first_and_adds_up():
    assert Shares(db=0.05, io=0.91, cpu=0.04).summary() == "I/O-bound: 91 % socket waits, 5 % DB, 4 % CPU"
    assert Shares(db=1, io=1, cpu=1.0001).summary() == "CPU-bound: 34 % CPU, 33 % DB, 33 % socket waits"
    assert sum(Shares(db=0.333, io=0.333, cpu=0.334).percents().values()) == 100
    assert Shares(0, 0, 0).percents() == {"db": 0, "io": 0, "cpu": 0}
    assert (Shares(1, 2, 3) + Shares(1, 0, 0, profiles=2)) == Shares(2, 2, 3, profiles=3)


# FMD level 3 rows (StackLine ⨝ CodeLine), as it stores them: header lines at indent 0,
# then the sampled calls; a row's duration (ms) includes the rows nested below it.
SITE = "/v/lib/python3.11/site-packages/"
MEASURE = (1, 100.0, SITE + "flask_monitoringdashboard/core/measurement.py", "evaluate")


def test_stack_rows_attribute_own_time_by_path():
    roster_on_sqlite = [
        StackRow(0, 100.0, "/app/webapp/school/routes.py", "None"),  # header: skipped
        StackRow(*MEASURE),
        StackRow(2, 100.0, "/app/webapp/school/routes.py", "roster"),
        StackRow(3, 70.0, SITE + "sqlalchemy/orm/session.py", "execute"),
        StackRow(4, 60.0, SITE + "sqlalchemy/engine/default.py", "do_execute"),
        StackRow(3, 20.0, "/app/webapp/school/routes.py", "<listcomp>"),
    ]
    assert classify_stack(roster_on_sqlite) == Shares(db=0.060, io=0.0, cpu=0.040)


def test_stack_rows_socket_waits_are_io_unless_under_a_driver():
    external_call = [
        StackRow(*MEASURE),
        StackRow(2, 100.0, "/app/webapp/grading/report.py", "class_report"),
        StackRow(3, 95.0, SITE + "requests/sessions.py", "send"),
        StackRow(4, 90.0, "/usr/lib/python3.11/socket.py", "readinto"),
    ]
    shares = classify_stack(external_call)
    assert shares.kind == "io" and shares.io == pytest.approx(0.090)
    query_on_mariadb = [
        StackRow(*MEASURE),
        StackRow(2, 100.0, SITE + "sqlalchemy/engine/default.py", "do_execute"),
        StackRow(3, 98.0, SITE + "pymysql/connections.py", "_read_packet"),
        StackRow(4, 90.0, "/usr/lib/python3.11/socket.py", "readinto"),
    ]
    assert classify_stack(query_on_mariadb) == Shares(db=0.100, io=0.0, cpu=0.0)


def test_stack_rows_of_the_sampler_starting_are_left_out():
    rows = [
        StackRow(*MEASURE),
        StackRow(2, 100.0, "/app/webapp/school/stats.py", "class_similarity"),
        StackRow(1, 6.0, SITE + "flask_monitoringdashboard/core/profiler/__init__.py",
                 "start_profiler_and_outlier_thread"),
        StackRow(2, 6.0, "/usr/lib/python3.11/threading.py", "wait"),
    ]
    assert classify_stack(rows) == Shares(db=0.0, io=0.0, cpu=0.100)
