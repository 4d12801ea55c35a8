"""Sessions, logins, CSRF, the toolbar's SQL views and monitoring levels (security findings 3, 4, 5, 7).

3. the tools' state-changing routes refuse cross-origin requests; FMD's JSON API wants
   JSON and only the app's endpoint names (no Endpoint rows from request text);
4. logout and a new password end sessions; failed logins are counted across workers and
   across /dashboard and /flask-profile in a bounded store; scrypt once per session;
5. the toolbar's SQL views: DEBUG_TB_HOSTS, expiring links, read-only execution;
7. a level change keeps flask-profiler attached and reaches every worker.
Server tests start gunicorn -w 2; the browser test drives Debian's chromium.
"""
import base64
import contextlib
import re
import shutil
import sqlite3
import stat
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from flask_debugtoolbar.panels.sqlalchemy import query_signer as upstream_signer
from itsdangerous import TimestampSigner

from flask_perf import credentials as credentials_module
from flask_perf.logins import AUTH_DB, AuthStore
from flask_perf.sql import readonly
from flask_perf.toolbar.panels import query_serializer
from tests.conftest import SMALL
from tests.support import flush_monitoring, run_flask, start_gunicorn
from webapp.extensions import db
from webapp.seed import seed

PASSWORD = "auth-test-pw-4242"
SAME = {"Origin": "http://localhost"}  # the test client's own origin
ROSTER = "school.roster"


# --------------------------------------------------------------------------- helpers

@pytest.fixture
def app(make_app, tmp_path):
    """The testing profile (dashboard level 1 + flask-profiler) on its own stores."""
    app = make_app("testing", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_MONITOR_PASSWORD=PASSWORD,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}",
                   PERF_DASHBOARD_LOGIN_LIMIT=5)
    with app.app_context():
        seed(SMALL, reset=True)
    return app


def store_rows(path: Path, sql: str, *args):
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql, args).fetchall()


def level_of(mon: Path, name: str = ROSTER) -> int:
    return store_rows(mon / "dashboard.db", "SELECT monitor_level FROM Endpoint WHERE name = ?", name)[0][0]


def fmd_requests(mon: Path, name: str = ROSTER) -> int:
    return store_rows(mon / "dashboard.db", "SELECT COUNT(*) FROM Request JOIN Endpoint ON "
                      "Endpoint.id = Request.endpoint_id WHERE Endpoint.name = ?", name)[0][0]


def profiled(mon: Path, rule: str = "/roster") -> int:
    return store_rows(mon / "profiler.db", "SELECT COUNT(*) FROM measurements WHERE name = ?", rule)[0][0]


def csrf(client) -> str:
    page = client.get("/dashboard/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, password=PASSWORD, **kwargs):
    return client.post("/dashboard/login", data={"name": "admin", "password": password,
                                                 "csrf_token": csrf(client)}, **kwargs)


def basic(password=PASSWORD) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()}


def logged_in(app):
    client = app.test_client()
    assert login(client).status_code == 302
    return client


# --------------------------------------------------------------------------- 3. CSRF

CROSS_SITE = [{"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page.html"},
              {"Origin": "null"}, {"Origin": "http://localhost.evil.example"}, {}]


@pytest.mark.parametrize("headers", CROSS_SITE, ids=["origin", "referer", "null", "lookalike", "none"])
def test_cross_site_posts_to_the_admin_api_are_refused(app, tmp_path, headers):
    client = logged_in(app)
    mon = tmp_path / "mon"
    users = store_rows(mon / "dashboard.db", "SELECT username, is_admin FROM User ORDER BY id")
    attempts = [("/dashboard/api/set_rule", {"name": ROSTER, "value": "0"}),
                ("/dashboard/api/user/create", {"username": "mallory", "password": "x", "password2": "x",
                                                "is_admin": "true"}),
                ("/dashboard/api/user/edit", {"user_id": "1", "is_admin": "false"}),
                ("/dashboard/api/user/delete", {"user_id": "1"})]
    for path, form in attempts:
        response = client.post(path, data=form, headers=headers)
        assert response.status_code == 403, (path, response.status_code)
    assert level_of(mon) == 1
    assert store_rows(mon / "dashboard.db", "SELECT username, is_admin FROM User ORDER BY id") == users
    # The same requests from the dashboard's own pages work.
    assert client.post("/dashboard/api/set_rule", data={"name": ROSTER, "value": "0"}, headers=SAME).data == b"OK"
    created = client.post("/dashboard/api/user/create", headers={"Referer": "http://localhost/dashboard/"},
                          data={"username": "bob", "password": "pw", "password2": "pw", "is_admin": "false"})
    assert created.status_code == 200 and level_of(mon) == 0


def test_same_host_behind_tls_and_trusted_origins_are_accepted(app, tmp_path):
    client = logged_in(app)
    post = lambda origin, level: client.post("/dashboard/api/set_rule", headers={"Origin": origin},
                                             data={"name": ROSTER, "value": level}).status_code
    assert post("https://localhost", "2") == 200  # a TLS-terminating proxy in front: same host
    assert post("http://localhost:8080", "3") == 403  # another port is another origin
    assert post("https://monitor.example", "3") == 403
    app.config["PERF_TRUSTED_ORIGINS"] = ["https://monitor.example"]
    assert post("https://monitor.example", "3") == 200 and level_of(tmp_path / "mon") == 3


def test_json_api_wants_json_and_only_the_apps_endpoints(app, tmp_path):
    client = logged_in(app)
    endpoints = lambda: store_rows(tmp_path / "mon" / "dashboard.db", "SELECT COUNT(*) FROM Endpoint")[0][0]
    before = endpoints()
    junk = '{"data": {"endpoints": ["junk-1", "junk-2"], "versions": ["1"]}}'
    plain = client.post("/dashboard/api/multi_version", data=junk, content_type="text/plain", headers=SAME)
    assert plain.status_code == 415
    for path in ("/dashboard/api/multi_version", "/dashboard/api/api_performance"):
        unknown = client.post(path, data=junk, content_type="application/json", headers=SAME)
        assert unknown.status_code == 400 and "unknown endpoint" in unknown.get_data(as_text=True)
        not_a_list = client.post(path, json={"data": {"endpoints": "junk", "versions": []}}, headers=SAME)
        assert not_a_list.status_code == 400
    assert client.post("/dashboard/api/multi_version", data="{", content_type="application/json",
                       headers=SAME).status_code == 400
    for form in ({"name": "junk-3", "value": "1"}, {"name": ROSTER, "value": "7"},
                 {"name": ROSTER, "value": "x"}, {}):
        assert client.post("/dashboard/api/set_rule", data=form, headers=SAME).status_code == 400
    assert endpoints() == before  # FMD's lookup created a row for every name it was sent
    known = client.post("/dashboard/api/multi_version", headers=SAME,
                        json={"data": {"endpoints": [ROSTER], "versions": ["v1"]}})
    assert known.status_code == 200 and known.get_json() == [[0.0]]
    with sqlite3.connect(tmp_path / "mon" / "dashboard.db") as conn:  # a route removed since
        conn.execute("INSERT INTO Endpoint (name, monitor_level) VALUES ('school.gone', 1)")
    removed = client.post("/dashboard/api/multi_version", headers=SAME,
                          json={"data": {"endpoints": [ROSTER, "school.gone"], "versions": ["v1"]}})
    assert removed.status_code == 200 and endpoints() == before + 1  # the page still works
    consent = client.post("/dashboard/telemetry/accept_telemetry_consent", data="consent=true",
                          content_type="application/x-www-form-urlencoded", headers=SAME)
    assert consent.status_code == 415


# --------------------------------------------------------------------------- 4. sessions

def test_session_cookie_saved_before_logout_is_refused_after_it(app):
    client = logged_in(app)
    saved = client.get_cookie("session").value
    assert client.get("/dashboard/api/overview").status_code == 200
    foreign = client.get("/dashboard/logout", headers={"Referer": "https://evil.example/"})
    assert foreign.status_code == 302 and client.get("/dashboard/api/overview").status_code == 200
    assert client.get("/dashboard/logout", headers={"Referer": "http://localhost/dashboard/overview"}
                      ).status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", saved)
    response = replay.get("/dashboard/api/overview")
    assert response.status_code == 302 and "/dashboard/login" in response.headers["Location"]
    assert logged_in(app).get("/dashboard/api/overview").status_code == 200  # a new login works


def test_session_from_before_a_restart_with_a_new_password_is_refused(make_app, tmp_path):
    def start(password):
        return make_app("testing", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_MONITOR_PASSWORD=password,
                        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}")

    saved = logged_in(start(PASSWORD)).get_cookie("session").value
    same = start(PASSWORD).test_client()  # a restart alone keeps the session
    same.set_cookie("session", saved)
    assert same.get("/dashboard/api/overview").status_code == 200
    changed = start("a-new-password-99").test_client()
    changed.set_cookie("session", saved)
    response = changed.get("/dashboard/api/overview")
    assert response.status_code == 302 and "/dashboard/login" in response.headers["Location"]


def test_session_cookie_is_samesite_lax_and_secure_over_https(app, make_app, tmp_path):
    plain = app.test_client().get("/dashboard/login").headers["Set-Cookie"]
    assert "SameSite=Lax" in plain and "Secure" not in plain
    https = app.test_client().get("/dashboard/login", base_url="https://localhost").headers["Set-Cookie"]
    assert "SameSite=Lax" in https and "; Secure" in https
    forced = make_app("testing", PERF_STORE_DIR=str(tmp_path / "mon2"), PERF_MONITOR_PASSWORD=PASSWORD,
                      PERF_COOKIE_SECURE=True, SESSION_COOKIE_SAMESITE="Strict",
                      SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}")
    cookie = forced.test_client().get("/dashboard/login").headers["Set-Cookie"]
    assert "; Secure" in cookie and "SameSite=Strict" in cookie  # the app's own choice stays


def test_failed_logins_are_counted_across_both_tools(app):
    client = app.test_client()
    token = csrf(client)
    for _ in range(3):
        wrong = client.post("/dashboard/login", data={"name": "admin", "password": "guess", "csrf_token": token})
        assert wrong.status_code == 200
    for _ in range(2):
        assert app.test_client().get("/flask-profile/api/measurements/", headers=basic("guess")).status_code == 401
    assert app.test_client().get("/flask-profile/api/measurements/", headers=basic()).status_code == 429
    assert client.post("/dashboard/login", data={"name": "admin", "password": PASSWORD,
                                                 "csrf_token": token}).status_code == 429
    other = {"REMOTE_ADDR": "10.9.9.9"}
    assert app.test_client().get("/flask-profile/api/measurements/", headers=basic(),
                                 environ_base=other).status_code == 200


def test_basic_auth_alone_is_rate_limited(app):
    client = app.test_client()
    statuses = [client.get("/flask-profile/api/measurements/", headers=basic(f"guess{i}")).status_code
                for i in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    assert client.get("/flask-profile/api/measurements/", headers=basic()).status_code == 429
    assert client.get("/flask-profile/api/measurements/").status_code == 401  # no guess, no count


def test_basic_auth_checks_the_password_once_per_session(app, monkeypatch):
    checks = []
    real = credentials_module.check_password_hash
    monkeypatch.setattr(credentials_module, "check_password_hash",
                        lambda *args: checks.append(1) or real(*args))
    client = app.test_client()
    for _ in range(10):
        assert client.get("/flask-profile/api/measurements/", headers=basic()).status_code == 200
    assert len(checks) == 1
    # The marker is bound to the header that earned it and to the login generation.
    assert client.get("/flask-profile/api/measurements/", headers=basic("guess")).status_code == 401
    assert len(checks) == 2
    assert client.get("/flask-profile/api/measurements/", headers=basic()).status_code == 200
    assert len(checks) == 2
    assert logged_in(app).get("/dashboard/logout").status_code == 302  # ends every session of the user
    assert len(checks) == 3  # (that login's check)
    assert client.get("/flask-profile/api/measurements/", headers=basic()).status_code == 200
    assert len(checks) == 4
    creds = app.extensions["flask_perf"].credentials
    creds.password_hash = credentials_module.generate_password_hash("changed-pw", method="pbkdf2:sha256:1")
    assert client.get("/flask-profile/api/measurements/", headers=basic()).status_code == 401
    assert client.get("/flask-profile/api/measurements/", headers=basic("changed-pw")).status_code == 200


def test_basic_auth_marker_expires(app, monkeypatch):
    from flask_perf import sessions

    client = app.test_client()
    assert client.get("/flask-profile/api/measurements/", headers=basic()).status_code == 200
    later = time.time() + app.config.get("PERF_PROFILER_AUTH_MAX_AGE_S", 600) + 1
    monkeypatch.setattr(sessions.time, "time", lambda: later)
    creds = app.extensions["flask_perf"].credentials
    monkeypatch.setattr(creds, "check", lambda *args: False)  # scrypt would run again: make it fail
    assert client.get("/flask-profile/api/measurements/", headers=basic()).status_code == 401


def test_failed_login_store_is_bounded_and_private(tmp_path):
    store = AuthStore(str(tmp_path / AUTH_DB), limit=3, window_s=300, max_rows=100)
    assert stat.S_IMODE((tmp_path / AUTH_DB).stat().st_mode) == 0o600
    store.begin_attempt("10.0.0.1")  # warm up sqlite3's module-level caches
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    for i in range(2000):
        assert store.begin_attempt(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}") is not None
    grown = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    assert store.failures() == 100  # the oldest rows went first
    assert grown < 64 * 1024, f"{grown} bytes kept in memory for 2,000 clients"
    assert [store.begin_attempt("192.0.2.1") is not None for _ in range(4)] == [True] * 3 + [False]
    window = AuthStore(str(tmp_path / "w.db"), limit=3, window_s=0.2, max_rows=100)
    assert all(window.begin_attempt("192.0.2.2") for _ in range(3)) and window.begin_attempt("192.0.2.2") is None
    time.sleep(0.3)
    assert window.begin_attempt("192.0.2.2") is not None and window.failures() == 1  # pruned by window


# --------------------------------------------------------------------------- 5. toolbar SQL

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
LOCAL = {"REMOTE_ADDR": "127.0.0.1", "HTTP_ACCEPT": BROWSER_ACCEPT}
SELECT = {"sqlite": ("SELECT id, last_name FROM students WHERE id = ?", [[1]]),
          "mariadb": ("SELECT id, last_name FROM students WHERE id = %(id)s", [{"id": 1}])}


@pytest.fixture
def dev_app(make_app, backend, tmp_path):
    """A development app (toolbar on) on a seeded database of ``backend``."""
    dev = make_app("development", SQLALCHEMY_DATABASE_URI=backend[1], TESTING=True,
                   PERF_STORE_DIR=str(tmp_path / "mon"), PERF_MONITOR_PASSWORD=PASSWORD)
    with dev.app_context():
        seed(SMALL, reset=True)
    yield dev
    with dev.app_context():
        db.drop_all()
        db.engine.dispose()


def sql_link(app, statement, params, explain=False, signer=query_serializer) -> str:
    with app.test_request_context():
        signed = signer().dumps([statement, params])
    return f"/_debug_toolbar/views/sqlalchemy/{'sql_explain' if explain else 'sql_select'}?query={signed}"


def student_exists(app, student_id=1) -> bool:
    with app.app_context():
        return db.session.execute(db.text("SELECT COUNT(*) FROM students WHERE id = :i"),
                                  {"i": student_id}).scalar_one() == 1


def test_sql_views_only_for_toolbar_hosts(dev_app, backend):
    statement, params = SELECT[backend[0]]
    client = dev_app.test_client()
    for explain in (False, True):
        link = sql_link(dev_app, statement, params, explain)
        assert client.get(link, environ_base=LOCAL).status_code == 200
        other = client.get(link, environ_base={**LOCAL, "REMOTE_ADDR": "127.0.0.2"})
        assert other.status_code == 403 and "DEBUG_TB_HOSTS" in other.get_data(as_text=True)
    cross = client.post(sql_link(dev_app, statement, params), environ_base=LOCAL,
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403


def test_sql_links_expire_and_old_links_are_refused(dev_app, backend, monkeypatch):
    statement, params = SELECT[backend[0]]
    client = dev_app.test_client()
    stamp = time.time() - dev_app.config["PERF_TOOLBAR_SQL_LINK_MAX_AGE_S"] - 5
    with monkeypatch.context() as patched:
        patched.setattr(TimestampSigner, "get_timestamp", lambda self: int(stamp))
        old = sql_link(dev_app, statement, params)
    expired = client.get(old, environ_base=LOCAL)
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
    upstream = client.get(sql_link(dev_app, statement, params, signer=upstream_signer), environ_base=LOCAL)
    assert upstream.status_code == 400  # flask-debugtoolbar's links never expired


def test_the_panel_signs_links_that_expire(dev_app):
    page = dev_app.test_client().get("/my_class?student_id=5", environ_base=LOCAL).get_data(as_text=True)
    token = re.search(r'sql_explain\?query=([^&"]+)', page).group(1)
    with dev_app.test_request_context():
        statement = query_serializer().loads(token, max_age=60)[0]
    assert statement.lower().startswith("select")


@pytest.mark.parametrize("statement", [
    "WITH doomed AS (SELECT 1) DELETE FROM students WHERE id = 1",
    "SELECT 1; DELETE FROM students WHERE id = 1",
    "SELECT * FROM students WHERE id = 1 INTO OUTFILE '/tmp/students.txt'",
])
def test_signed_statements_that_write_are_refused(dev_app, backend, statement):
    client = dev_app.test_client()
    for explain in (False, True):
        response = client.get(sql_link(dev_app, statement, []), environ_base=LOCAL)
        assert response.status_code == 400 and "only a single SELECT" in response.get_data(as_text=True)
    assert student_exists(dev_app)


def test_the_connection_itself_refuses_writes(dev_app, backend):
    writes = ["DELETE FROM students WHERE id = 1", "UPDATE students SET last_name = 'x' WHERE id = 1"]
    if backend[0] == "sqlite":
        writes.append("WITH doomed AS (SELECT 1) DELETE FROM students WHERE id = 1")  # was autocommitted
    else:
        writes.append("INSERT INTO students (id, first_name, last_name, email) VALUES (999999, 'x', 'x', 'x@x')")
    with dev_app.app_context():
        engine = db.engine
        for sql in writes:
            with pytest.raises(Exception, match=r"(?i)read.?only"):
                with readonly.read_only(engine) as conn:
                    conn.exec_driver_sql(sql)
        with readonly.read_only(engine) as conn:
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM students").scalar_one() == SMALL.students
    assert student_exists(dev_app)
    with dev_app.app_context():  # the pooled connections are writable again for the app
        db.session.execute(db.text("UPDATE students SET last_name = 'renamed' WHERE id = 2"))
        db.session.commit()
        assert db.session.execute(db.text("SELECT last_name FROM students WHERE id = 2")).scalar_one() == "renamed"


# --------------------------------------------------------------------------- 7. levels

def test_level_zero_and_back_keeps_flask_profiler_recording(app, tmp_path):
    mon = tmp_path / "mon"
    client = logged_in(app)

    def hit(times=3):
        for _ in range(times):
            assert client.get("/roster?class_id=1").status_code == 200
        flush_monitoring(app)
        return fmd_requests(mon), profiled(mon)

    start = hit()
    assert client.post("/dashboard/api/set_rule", data={"name": ROSTER, "value": "0"}, headers=SAME).data == b"OK"
    at_zero = hit()
    assert level_of(mon) == 0 and at_zero[0] == start[0] and at_zero[1] == start[1] + 3
    assert client.post("/dashboard/api/set_rule", data={"name": ROSTER, "value": "1"}, headers=SAME).data == b"OK"
    back = hit()
    assert back == (at_zero[0] + 3, at_zero[1] + 3)  # stock FMD: flask-profiler recorded nothing now
    assert getattr(app.view_functions[ROSTER], "original", None) is not None  # FMD's level-3 header


def test_a_level_stored_by_another_worker_applies_within_the_sync_interval(app, tmp_path):
    mon = tmp_path / "mon"
    client = app.test_client()
    with contextlib.closing(sqlite3.connect(mon / "dashboard.db")) as conn, conn:
        conn.execute("UPDATE Endpoint SET monitor_level = 0 WHERE name = ?", (ROSTER,))
    time.sleep(app.config.get("PERF_DASHBOARD_LEVEL_SYNC_S", 1.0) + 0.1)
    flush_monitoring(app)
    before = fmd_requests(mon), profiled(mon)
    for _ in range(5):
        client.get("/roster?class_id=1")
    flush_monitoring(app)
    assert (fmd_requests(mon), profiled(mon)) == (before[0], before[1] + 5)


def test_a_restart_keeps_ui_levels_unless_the_configured_level_changed(make_app, app, tmp_path):
    mon = tmp_path / "mon"
    client = logged_in(app)
    assert client.post("/dashboard/api/set_rule", data={"name": ROSTER, "value": "0"}, headers=SAME).data == b"OK"

    def start(**config):
        return make_app("testing", PERF_STORE_DIR=str(mon), PERF_MONITOR_PASSWORD=PASSWORD,
                        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}", **config)

    start()  # another worker booting, or the same config restarted
    assert level_of(mon) == 0
    start(PERF_DASHBOARD_LEVEL=2)  # a new configured level applies to every endpoint
    assert level_of(mon) == 2 and level_of(mon, "school.my_class") == 2


# --------------------------------------------------------------------------- servers

@contextlib.contextmanager
def gunicorn(tmp_path, **env):
    seeded = run_flask(tmp_path, "testing", "seed", "--students", "60", "--classes", "6",
                       "--per-student", "2")
    assert seeded.returncode == 0, seeded.stderr
    server = start_gunicorn(tmp_path, "testing", workers=2, APP_PERF_MONITOR_PASSWORD=PASSWORD, **env)
    try:
        yield server.wait_ready("/")
    finally:
        assert server.stop() == 0, server.log()


def http_login(server, password=PASSWORD) -> requests.Session:
    session = requests.Session()
    form = session.get(server.url + "/dashboard/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    session.post(server.url + "/dashboard/login", allow_redirects=False, timeout=30,
                 data={"name": "admin", "password": password, "csrf_token": token})
    return session


@pytest.mark.server
def test_login_limit_holds_across_workers_and_tools(tmp_path):
    with gunicorn(tmp_path, APP_PERF_DASHBOARD_LOGIN_LIMIT="6") as server:
        def dashboard_guess(i):
            session = requests.Session()
            form = session.get(server.url + "/dashboard/login", timeout=30).text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
            return session.post(server.url + "/dashboard/login", timeout=30, allow_redirects=False,
                                data={"name": "admin", "password": f"guess{i}", "csrf_token": token}).status_code

        def profiler_guess(i):
            return requests.get(server.url + "/flask-profile/api/measurements/", timeout=30,
                                auth=("admin", f"guess{i}")).status_code

        with ThreadPoolExecutor(max_workers=4) as pool:  # both workers busy at once
            statuses = list(pool.map(lambda i: (dashboard_guess if i % 2 else profiler_guess)(i), range(12)))
        assert statuses.count(429) == 6, statuses  # exactly 6 passwords were checked
        assert set(statuses) - {429} <= {200, 401}, statuses  # wrong: the form again, or 401
        for _ in range(2):  # whichever worker answers
            assert requests.get(server.url + "/flask-profile/api/measurements/", auth=("admin", PASSWORD),
                                timeout=30).status_code == 429
            form = requests.Session()
            token = re.search(r'value="([^"]+)"', form.get(server.url + "/dashboard/login", timeout=30).text)
            assert form.post(server.url + "/dashboard/login", allow_redirects=False, timeout=30, data={
                "name": "admin", "password": PASSWORD, "csrf_token": token.group(1)}).status_code == 429
    assert store_rows(tmp_path / AUTH_DB, "SELECT COUNT(*) FROM failed_logins")[0][0] == 6


@pytest.mark.server
def test_a_level_set_through_one_worker_applies_in_all(tmp_path):
    with gunicorn(tmp_path) as server:
        admin = http_login(server)
        assert admin.get(server.url + "/dashboard/api/overview", timeout=30).status_code == 200

        def after_change(level) -> tuple[int, int]:
            answer = admin.post(server.url + "/dashboard/api/set_rule", data={"name": ROSTER, "value": level},
                                headers={"Origin": server.url}, timeout=30)
            assert answer.status_code == 200 and answer.text == "OK"
            time.sleep(1.3)  # PERF_DASHBOARD_LEVEL_SYNC_S (1 s) and a margin
            before = fmd_requests(tmp_path), profiled(tmp_path)
            with ThreadPoolExecutor(max_workers=2) as pool:
                assert set(pool.map(lambda _: requests.get(server.url + "/roster?class_id=1", timeout=30)
                                    .status_code, range(20))) == {200}
            deadline = time.monotonic() + 15
            while profiled(tmp_path) < before[1] + 20 and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(2.5)  # the dashboard's writer lingers 1 s per batch (DEFAULT_LINGER_S)
            return fmd_requests(tmp_path) - before[0], profiled(tmp_path) - before[1]

        assert after_change("0") == (0, 20)  # stock FMD: the other worker still recorded its share
        assert level_of(tmp_path) == 0
        assert after_change("1") == (20, 20)


# --------------------------------------------------------------------------- browser

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.mark.server
@pytest.mark.browser
def test_changing_a_level_by_clicking_in_the_overview(tmp_path):
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with gunicorn(tmp_path) as server, sync_playwright() as playwright:
        requests.get(server.url + "/roster?class_id=1", timeout=30)
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(server.url + "/dashboard/login")
            page.fill("input[name=name]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[name=Login]")
            page.wait_for_url("**/dashboard/overview")
            row = page.locator("tr", has_text=ROSTER).first
            row.wait_for(timeout=20_000)
            assert level_of(tmp_path) == 1
            with page.expect_response("**/api/set_rule") as answer:
                row.locator("a.page-link", has_text=re.compile(r"^\s*0\s*$")).click()
            assert answer.value.status == 200
            assert level_of(tmp_path) == 0
            # A page of another origin (same site: another port) posting the form: refused.
            evil = server.url.rsplit(":", 1)[0] + ":9/evil.html"
            page.route(evil, lambda route: route.fulfill(content_type="text/html", body=(
                f'<form method="POST" action="{server.url}/dashboard/api/set_rule">'
                f'<input name="name" value="{ROSTER}"><input name="value" value="3"></form>'
                "<script>document.forms[0].submit()</script>")))
            with page.expect_response("**/api/set_rule") as forged:
                page.goto(evil)
            assert forged.value.status == 403 and level_of(tmp_path) == 0
        finally:
            browser.close()
