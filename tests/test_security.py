"""No way in for strangers: dashboard login, forged sessions, open routes, redaction."""
import json
import re
import sqlite3

import flask_monitoringdashboard as fmd
import pytest
from flask.sessions import SecureCookieSessionInterface

from tests.conftest import SMALL
from tests.support import flush_monitoring
from webapp.seed import seed

PASSWORD = "s3curity-test-pw"


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app("development", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_MONITOR_PASSWORD=PASSWORD,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}",
                   PERF_TOOLBAR_ENABLED=False, PERF_DASHBOARD_LOGIN_LIMIT=5)
    with app.app_context():
        seed(SMALL, reset=True)
    return app


def fmd_count(tmp_path, table="Request"):
    with sqlite3.connect(tmp_path / "mon" / "dashboard.db") as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def csrf(client) -> str:
    page = client.get("/dashboard/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, password=PASSWORD, token=None):
    return client.post("/dashboard/login", data={"name": "admin", "password": password,
                                                 "csrf_token": token or csrf(client)})


def test_login_requires_csrf_token_and_the_right_password(app):
    client = app.test_client()
    no_token = client.post("/dashboard/login", data={"name": "admin", "password": PASSWORD})
    assert no_token.status_code == 400
    wrong = login(client, "admin")
    assert wrong.status_code == 200 and "Wrong user name or password" in wrong.get_data(as_text=True)
    assert client.get("/dashboard/api/overview").status_code == 302
    ok = login(client)
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/dashboard/")
    assert client.get("/dashboard/api/overview").status_code == 200


def test_admin_admin_never_works_even_on_an_empty_user_table(make_app, tmp_path):
    app = make_app("testing", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_DASHBOARD_MANAGE_USER=False)
    client = app.test_client()
    response = client.post("/dashboard/login", data={"name": "admin", "password": "admin",
                                                     "csrf_token": csrf(client)})
    assert response.status_code == 200 and client.get("/dashboard/api/overview").status_code == 302
    assert fmd_count(tmp_path, "User") == 0  # FMD's own view would have created admin/admin


def test_failed_logins_are_rate_limited(app):
    client = app.test_client()
    token = csrf(client)
    for _ in range(5):
        assert login(client, "guess", token).status_code == 200
    assert login(client, PASSWORD, token).status_code == 429  # even the right password, for now
    other = app.test_client()
    assert other.post("/dashboard/login", environ_base={"REMOTE_ADDR": "10.9.9.9"},
                      data={"name": "admin", "password": PASSWORD, "csrf_token": csrf(other)}
                      ).status_code == 302


def test_a_session_signed_with_fmds_default_key_does_not_log_in(app):
    forged_app = type("A", (), {"secret_key": "my-secret-key", "config": {
        "SECRET_KEY_FALLBACKS": None}})()
    serializer = SecureCookieSessionInterface().get_signing_serializer(forged_app)
    cookie = serializer.dumps({"dashboard_logged_in": True, "dashboard_admin": True,
                               "dashboard_user_id": 1})
    client = app.test_client()
    client.set_cookie("session", cookie)
    response = client.get("/dashboard/api/overview")
    assert response.status_code == 302 and "/dashboard/login" in response.headers["Location"]
    assert app.secret_key != "my-secret-key"


@pytest.mark.parametrize("method, path, body", [
    ("post", "/dashboard/database_pruning/prune_on_demand",
     {"age_threshold_weeks": 0, "delete_custom_graph_data": True}),
    ("get", "/dashboard/database_pruning/get_database_size", None),
    ("get", "/dashboard/database_pruning/get_pruning_schedule", None),
    ("post", "/dashboard/telemetry/accept_telemetry_consent", {"consent": True}),
    ("post", "/dashboard/telemetry/submit_follow_up", {"feedback": "x"}),
    ("post", "/dashboard/api/set_rule", None),
    ("post", "/dashboard/api/user/create", None),
])
def test_anonymous_state_changers_are_refused_and_data_stays(app, tmp_path, method, path, body):
    client = app.test_client()
    for class_id in (1, 2):
        client.get(f"/roster?class_id={class_id}")
    flush_monitoring(app)
    before = fmd_count(tmp_path)
    response = getattr(client, method)(path, json=body) if body else getattr(client, method)(path)
    assert response.status_code in (302, 401, 403)
    if response.status_code == 302:
        assert "/dashboard/login" in response.headers["Location"]
    assert fmd_count(tmp_path) == before == 2


def test_outlier_records_are_redacted(app, tmp_path):
    client = app.test_client()
    headers = {"Authorization": "Bearer top-secret-token", "Cookie": "session=abc-secret-cookie",
               "X-Api-Key": "key-secret-123"}
    assert client.get("/roster?class_id=1&password=hunter2", headers=headers).status_code == 200
    flush_monitoring(app)
    with sqlite3.connect(tmp_path / "mon" / "dashboard.db") as conn:
        rows = conn.execute("SELECT request_header, request_environment, request_url FROM Outlier").fetchall()
    assert rows, "the first level-3 request is always stored as an outlier"
    stored = " ".join(str(value) for row in rows for value in row)
    for secret in ("top-secret-token", "abc-secret-cookie", "key-secret-123", "hunter2"):
        assert secret not in stored
    assert "[redacted]" in stored and "class_id=1" in stored


def test_profiler_records_are_redacted(app, tmp_path):
    def echo():
        return "ok"

    app.add_url_rule("/echo", "echo", echo, methods=["POST"])  # after init_app: wrapped all the same
    client = app.test_client()
    client.get("/roster?class_id=1&api_key=k-123", headers={"Authorization": "Basic c2VjcmV0",
                                                           "Cookie": "s=cookie-value"})
    assert client.post("/echo", data={"password": "form-secret", "name": "x"}).status_code == 200
    assert client.post("/echo", json={"token": "json-secret", "x": 1}).status_code == 200
    binary = client.post("/echo", data=b"\xff\xfe not utf-8", content_type="application/octet-stream")
    assert binary.status_code == 200  # stock flask-profiler answered 500 here
    flush_monitoring(app)
    with sqlite3.connect(tmp_path / "mon" / "profiler.db") as conn:
        contexts = [json.loads(c) for (c,) in conn.execute("SELECT context FROM measurements ORDER BY id")]
    assert len(contexts) == 4
    assert contexts[1]["form"] == {"password": "[redacted]", "name": "x"}
    assert json.loads(contexts[2]["body"]) == {"token": "[redacted]", "x": 1}
    stored = json.dumps(contexts)
    for secret in ("c2VjcmV0", "cookie-value", "k-123", "form-secret", "json-secret"):
        assert secret not in stored
    assert contexts[0]["headers"]["Authorization"] == "[redacted]"


def test_profiler_delete_database_is_disabled(app, tmp_path):
    client = app.test_client()
    client.get("/roster?class_id=1")
    flush_monitoring(app)
    anonymous = client.get("/flask-profile/db/deleteDatabase")
    assert anonymous.status_code == 401
    auth = {"Authorization": "Basic " + __import__("base64").b64encode(f"admin:{PASSWORD}".encode()).decode()}
    logged_in = client.get("/flask-profile/db/deleteDatabase", headers=auth)
    assert logged_in.status_code == 403 and "monitoring prune" in logged_in.get_json()["message"]
    with sqlite3.connect(tmp_path / "mon" / "profiler.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM measurements").fetchone()[0] == 1
    wrong = client.get("/flask-profile/api/measurements/", headers={
        "Authorization": "Basic " + __import__("base64").b64encode(b"admin:admin").decode()})
    assert wrong.status_code == 401


def test_dashboard_config_view_hides_the_store_password(app):
    client = app.test_client()
    login(client)
    saved = fmd.config.database_name
    fmd.config.database_name = "mysql+pymysql://monitor:pa55word@db.example/fmd"
    try:
        data = client.get("/dashboard/api/deploy_config").get_json()
    finally:
        fmd.config.database_name = saved
    assert data["database_name"] == "mysql+pymysql://monitor:***@db.example/fmd"
