"""Hostile input against the tools (the security probe): stored XSS, unbounded storage,
leaks and crashes. Each test fails on the code before the fix; SECURITY.md's "What is
refused" table lists the same attacks and answers.
"""
import base64
import io
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import stat
import time
import urllib.parse
import urllib.request

import pytest
from flask import Flask, request

import config
from flask_perf import ConfigError, FlaskPerf
from flask_perf.headers import CSP
from flask_perf.profiler import assets as profiler_assets
from tests.conftest import SMALL
from tests.support import ROOT, development_server, flush_monitoring, require_command, run_flask, start_gunicorn
from webapp import create_app
from webapp.seed import seed

PASSWORD = "inputs-test-pw-5"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()}
PAYLOAD = "'><img src=x onerror=alert(document.domain)>"
ARTIFACTS = ROOT / "test-artifacts" / "security"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app("development", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_MONITOR_PASSWORD=PASSWORD,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}", PERF_TOOLBAR_ENABLED=False,
                   PERF_DASHBOARD_LEVEL=2)  # outliers kept; level 3 cannot profile views added late
    with app.app_context():
        seed(SMALL, reset=True)
    return app


def echo():  # a named view: FMD's level 3 cannot profile a lambda registered late
    return "ok"


def echo_rest(rest):
    return "ok"


def contexts(tmp_path) -> list[dict]:
    with sqlite3.connect(tmp_path / "mon" / "profiler.db") as conn:
        return [json.loads(c) for (c,) in conn.execute("SELECT context FROM measurements ORDER BY id")]


def dashboard_rows(tmp_path, sql):
    with sqlite3.connect(tmp_path / "mon" / "dashboard.db") as conn:
        return conn.execute(sql).fetchall()


# 1. Stored XSS -------------------------------------------------------------------------------

def test_profiler_script_escapes_stored_values(app):
    script = app.test_client().get("/flask-profile/static/dist/js/main.js").get_data(as_text=True)
    assert "data-json='\"+flaskPerfEscape(JSON.stringify(a.context))" in script
    assert script.count("flaskPerfEscape(a.method)") == 2  # both tables' method column
    for upstream, _, _ in profiler_assets.FIXES:
        assert upstream not in script


def test_a_changed_upstream_script_stops_the_app_instead_of_serving_it():
    source = profiler_assets.UPSTREAM.read_text()
    changed = source.replace("JSON.stringify(a.context)", "JSON.stringify(a.ctx)")
    with pytest.raises(ConfigError, match="main.js changed"):
        profiler_assets.corrected_main_js(changed)


@pytest.mark.parametrize("path, status", [
    ("/dashboard/login", 200), ("/dashboard/api/overview", 302), ("/dashboard/static/js/app.js", 200),
    ("/flask-profile/", 401), ("/flask-profile/api/measurements/", 401),
    ("/flask-profile/static/dist/js/main.js", 200), ("/flask-profile/static/dist/js/vendor.js", 200),
    ("/_flask_perf/static/vendor/angular-1.7.5.min.js", 200), ("/flask-profile/no-such-page", 404),
])
def test_tool_pages_forbid_inline_script_and_framing(app, path, status):
    with app.test_client().get(path) as response:  # static files stream: close them
        assert response.status_code == status
    policy = response.headers["Content-Security-Policy"]
    assert policy == CSP
    script_src = re.search(r"script-src ([^;]*)", policy).group(1)
    assert script_src == "'self'"  # no 'unsafe-inline', no 'unsafe-eval', no other origin
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_apps_own_pages_keep_their_headers(app):
    for path in ("/roster?class_id=1", "/"):
        response = app.test_client().get(path)
        assert response.status_code == 200 and "Content-Security-Policy" not in response.headers


# 2. Unbounded storage ---------------------------------------------------------------------

def test_every_stored_request_field_is_capped(app, tmp_path):
    app.add_url_rule("/echo/<path:rest>", "echo", echo_rest, methods=["GET", "POST"])  # wrapped when added
    client = app.test_client()
    huge_headers = {f"X-Filler-{i}": "h" * 10_000 for i in range(100)}
    query = "&".join(f"q{i}={'a' * 3000}" for i in range(100))
    assert client.get(f"/stats?class_id=2&{query}", headers=huge_headers).status_code == 200
    form = {f"f{i}": "v" * 2000 for i in range(200)}
    assert client.post("/echo/" + "p" * 5000, data=form).status_code == 200
    nested = {"k": "x" * 5000}
    for _ in range(20):
        nested = {"deeper": nested, "list": list(range(500))}
    assert client.post("/echo/x", json=nested).status_code == 200
    assert client.post("/echo/x", data=b"raw" * 100_000, content_type="text/plain").status_code == 200
    deep = "[" * 50_000 + "]" * 50_000  # deeper than Python's json parser recurses
    assert client.post("/echo/x", data=deep, content_type="application/json").status_code == 200
    flush_monitoring(app)
    with sqlite3.connect(tmp_path / "mon" / "profiler.db") as conn:
        rows = conn.execute("SELECT context, kwargs FROM measurements ORDER BY id").fetchall()
    assert len(rows) == 5
    for context, kwargs in rows:
        assert len(context) <= app.config["PERF_MAX_RECORD_CHARS"]
        assert len(kwargs) <= app.config["PERF_MAX_FIELD_CHARS"] + 100
    stats, form_row, nested_row, raw_row, deep_row = [json.loads(c) for c, _ in rows]
    assert "more fields truncated]" in json.dumps(stats["headers"]) + json.dumps(stats["args"])
    assert stats["args"]["class_id"] == "2"  # the first entries are kept whole
    dropped = re.fullmatch(r"\[(\d+) more fields truncated\]", form_row["form"]["…"])
    assert dropped and int(dropped.group(1)) + len(form_row["form"]) - 1 == 200
    assert form_row["form"]["f0"].endswith("…[truncated 1488 chars]")
    assert form_row["url"].endswith("…[truncated 4510 chars]")  # 22 + 5000 chars, 512 kept
    assert "nested deeper than" in nested_row["body"] or "truncated" in nested_row["body"]
    assert len(raw_row["body"]) < app.config["PERF_MAX_BODY_CHARS"] + 50
    assert raw_row["body"].endswith(f"…[truncated {300_000 - 2048} bytes]")
    assert deep_row["body"].startswith("[[[[") and "truncated" in deep_row["body"]


def test_run_label_becomes_a_group_only_when_it_is_a_short_token(app, tmp_path):
    client = app.test_client()
    labels = ["loadtest-20261130T120000123456Z", "r" * 4000, PAYLOAD, "run label with spaces", ""]
    for label in labels:
        assert client.get("/roster?class_id=1", headers={"X-Loadtest-Run": label}).status_code == 200
    flush_monitoring(app)
    groups = [g for (g,) in dashboard_rows(tmp_path, "SELECT group_by FROM Request ORDER BY id")]
    assert groups == ["loadtest-20261130T120000123456Z", "None", "None", "None", "None"]


def test_bodies_over_the_limit_answer_413_before_anything_reads_them(app, tmp_path):
    client = app.test_client()
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    big = b"x" * (2 * 1024 * 1024)
    json_path = client.post("/enrollments", data=big, content_type="application/json")
    assert json_path.status_code == 413 and json_path.get_json()["error"] == "request_entity_too_large"
    form = client.post("/enrollments?student_id=1&class_id=1", data=big, content_type="text/plain")
    assert form.status_code == 413  # stock: 201, the body never read
    html = client.post("/my_class?student_id=1", data=big)
    assert html.status_code == 413 and html.mimetype == "text/html"
    flush_monitoring(app)
    assert contexts(tmp_path) == []  # refused before flask-profiler's wrapper ran


def test_the_apps_own_body_limit_wins(make_app, tmp_path):
    own = make_app("testing", PERF_STORE_DIR=str(tmp_path / "a"), MAX_CONTENT_LENGTH=10)
    assert own.config["MAX_CONTENT_LENGTH"] == 10
    assert own.test_client().post("/enrollments", data=b"x" * 11).status_code == 413
    unlimited = Flask("unlimited")
    unlimited.config.update(SECRET_KEY=secrets.token_hex(32), PERF_MAX_CONTENT_LENGTH=None,
                            PERF_STORE_DIR=str(tmp_path / "b"))
    FlaskPerf(unlimited, profile="bare")
    assert unlimited.config["MAX_CONTENT_LENGTH"] is None



@pytest.mark.server
def test_a_chunked_body_over_the_limit_gets_413_and_one_within_it_arrives_whole(tmp_path):
    """No Content-Length: werkzeug cut the body at MAX_CONTENT_LENGTH without a word, and the
    demo answered 400 to JSON that had lost its end. Now: 413 past the limit; within it the
    view gets the whole body, whatever the chunk sizes."""
    seeded = run_flask(tmp_path, "testing", "seed", "--students", "60", "--classes", "6", "--per-student", "2")
    assert seeded.returncode == 0, seeded.stderr
    server = start_gunicorn(tmp_path, "testing", workers=1).wait_ready("/")
    try:
        statuses = []
        for class_id in range(1, 7):
            body = json.dumps({"student_id": 1, "class_id": class_id, "note": "n" * 300_000}).encode()
            statuses.append(_chunked(server.port, body, chunk=65_536)[0])
        too_big, answer = _chunked(server.port, b"[" * (2 * 1024 * 1024), chunk=262_144)
    finally:
        assert server.stop() == 0, server.log()
    assert sorted(statuses) == [201, 201, 201, 201, 409, 409]  # 300 KB bodies in 64 KB chunks, parsed whole
    assert too_big == 413 and "request_entity_too_large" in answer


def test_with_an_upload_sized_limit_a_chunked_body_streams_and_still_gets_413(tmp_path):
    """Over body_limit.BUFFERED_LIMIT the body is not read ahead; the view's read answers 413."""
    uploads, seen = _limited_app(tmp_path, 6_000_000)

    def chunked(size):
        return uploads.test_client().post("/echo", input_stream=io.BytesIO(b"u" * size),
                                          headers={"Transfer-Encoding": "chunked"},
                                          environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""})
    assert chunked(6_000_000).get_json() == {"size": 6_000_000}  # exactly the limit: whole
    assert chunked(5_000_000).get_json() == {"size": 5_000_000}
    assert chunked(6_000_001).status_code == 413  # stock: 200 with {"size": 6000000}
    assert [stream for _, stream in seen] == ["_Capped"] * 3  # streamed, not a buffer (the third read gets 413)


class _Trickle(io.RawIOBase):
    """A decoded chunked body as a server may hand it: ``step`` bytes a read, or an error
    after ``fail_after`` bytes (the client gone mid-body)."""

    def __init__(self, data: bytes, step: int, fail_after: int | None = None):
        self._data, self._step, self._fail_after, self._at = data, step, fail_after, 0

    def readable(self) -> bool:
        return True

    def read(self, size=-1):
        if self._fail_after is not None and self._at >= self._fail_after:
            raise OSError("client disconnected")
        size = self._step if size is None or size < 0 else min(size, self._step)
        data = self._data[self._at:self._at + size]
        self._at += len(data)
        return data


@pytest.mark.parametrize("sent, step, headers, answer", [
    (100, 7, {}, (200, 100)),  # exactly the limit, in short reads: whole
    (101, 7, {}, (413, None)),  # stock: 200 with 7 bytes (one read)
    (30, 100, {"Content-Length": "0"}, (200, 30)),  # a Content-Length beside chunked is ignored
    (500, 100, {"Content-Length": "0"}, (413, None)),  # stock: 200 with 100 bytes
    (30, 100, {"Transfer-Encoding": "gzip, chunked"}, (200, 30)),
])
def test_a_chunked_body_is_read_whole_or_refused(tmp_path, sent, step, headers, answer):
    small, seen = _limited_app(tmp_path, 100)
    environ = {"wsgi.input_terminated": True, "CONTENT_LENGTH": headers.pop("Content-Length", ""),
               "HTTP_TRANSFER_ENCODING": headers.pop("Transfer-Encoding", "chunked")}
    environ["wsgi.input"] = _Trickle(b"b" * sent, step)
    response = small.test_client().post("/echo", environ_overrides=environ)
    assert (response.status_code, (response.get_json() or {}).get("size")) == answer
    if answer[0] == 200:
        assert seen == [(environ["HTTP_TRANSFER_ENCODING"].replace("chunked", "").strip(", ") or None, "BytesIO")]


def test_a_client_gone_mid_body_gets_400_not_500(tmp_path):
    small, _ = _limited_app(tmp_path, 100)
    def environ(stream):
        return {"wsgi.input_terminated": True, "CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked",
                "wsgi.input": stream}
    gone = small.test_client().post("/echo", environ_overrides=environ(_Trickle(b"b" * 90, 10, fail_after=40)))
    assert gone.status_code == 400  # stock: 400 too (werkzeug's ClientDisconnected), not a 500
    nowhere = small.test_client().get("/nowhere", environ_overrides=environ(_Trickle(b"", 10, fail_after=0)))
    assert nowhere.status_code == 404  # never read


def _limited_app(tmp_path, limit: int):
    """A bare app with flask_perf and MAX_CONTENT_LENGTH ``limit``; its POST /echo answers
    the body's size and notes (Transfer-Encoding, the type of the stream it read)."""
    limited = Flask("limited")
    limited.config.update(SECRET_KEY=secrets.token_hex(32), PERF_STORE_DIR=str(tmp_path), MAX_CONTENT_LENGTH=limit)
    FlaskPerf(limited, profile="bare")
    seen = []

    @limited.post("/echo")
    def echo():
        seen.append((request.headers.get("Transfer-Encoding"), type(request.environ["wsgi.input"]).__name__))
        return {"size": len(request.get_data())}

    return limited, seen

def _chunked(port: int, body: bytes, chunk: int) -> tuple[int, str]:
    """POST ``body`` to /enrollments in chunks, no Content-Length: (status, answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(b"POST /enrollments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            for start in range(0, len(body), chunk):
                piece = body[start:start + chunk]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # answered (413) and closed while the body was on its way
        answer = b""
        try:
            while chunk_in := sock.recv(65536):
                answer += chunk_in
        except OSError:
            pass  # reset after the answer: the server closed with our body unread
    text = answer.decode("latin-1")
    assert text.startswith("HTTP/1.1 "), f"no answer: {text[:200]!r}"
    return int(text.split(" ", 2)[1]), text

def _attacks(url: str, port: int):
    """(name, requests stored, send) of each phase of the bad-input run; send() → bytes sent."""
    headers = {f"X-Filler-{i}": "h" * 8000 for i in range(90)}  # within gunicorn's 8190 / 100 limits
    form = "&".join(f"f{i}={'v' * 2000}" for i in range(200)).encode()
    body = json.dumps({f"k{i}": "j" * 900 for i in range(1000)}).encode()
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    return [
        ("40 GETs with 90 headers of 8,000 chars", 40,
         lambda: sum(_request(url + "/stats?class_id=2", headers=headers) for _ in range(40))),
        ("200 GETs with a 4 KB X-Loadtest-Run", 200,
         lambda: sum(_request(url + "/roster?class_id=1", headers={"X-Loadtest-Run": f"{i}-" + "r" * 4000})
                     for i in range(200))),
        ("20 POSTs of a 400 KB form (200 fields)", 20,
         lambda: sum(_request(url + "/enrollments", data=form, expect=400, headers=form_type)
                     for _ in range(20))),
        ("20 POSTs of a 900 KB JSON body", 20,
         lambda: sum(_request(url + "/enrollments", data=body, expect=400,
                              headers={"Content-Type": "application/json"}) for _ in range(20))),
        ("10 POSTs announcing 20 MB", 0,
         lambda: sum(_oversized_body(port, "/enrollments", 20 * 1024 * 1024) for _ in range(10))),
    ]


@pytest.mark.server
def test_a_bad_input_run_keeps_store_growth_bounded(tmp_path):
    seeded = run_flask(tmp_path, "testing", "seed", "--students", "60", "--classes", "6", "--per-student", "2")
    assert seeded.returncode == 0, seeded.stderr
    server = start_gunicorn(tmp_path, "testing", workers=1, APP_PERF_MONITOR_PASSWORD=PASSWORD,
                            APP_PERF_DASHBOARD_LEVEL="2").wait_ready("/")  # level 2: outliers kept
    stores = {name: tmp_path / f"{name}.db" for name in ("dashboard", "profiler")}
    phases, stored = [], 1  # the readiness probe's request
    try:
        _wait_for_rows(stores, stored)
        size = {name: _checkpointed_size(path) for name, path in stores.items()}
        for name, requests, send in _attacks(server.url, server.port):
            sent = send()
            stored += requests
            _wait_for_rows(stores, stored)
            now = {store: _checkpointed_size(path) for store, path in stores.items()}
            phases.append({"attack": name, "bytes_sent": sent, "requests_stored": requests,
                           "growth": {store: now[store] - size[store] for store in stores}})
            size = now
        outliers = _outliers(stores["dashboard"])
        with sqlite3.connect(stores["dashboard"]) as conn:
            groups = {g for (g,) in conn.execute("SELECT DISTINCT group_by FROM Request")}
    finally:
        assert server.stop() == 0, server.log()
    sent = sum(p["bytes_sent"] for p in phases)
    growth = sum(sum(p["growth"].values()) for p in phases)
    record = 16_384  # PERF_MAX_RECORD_CHARS
    # flask-profiler keeps one record per request; FMD a row, and for outliers headers + environ.
    bound = (stored - 1) * (record + 2048) + outliers * (2 * record + 2048)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "bad_input_growth.json").write_text(json.dumps(
        {"phases": phases, "bytes_sent": sent, "growth": growth, "outliers": outliers, "bound": bound},
        indent=2))
    assert groups == {"None"}  # 4 KB run labels never became groups
    assert growth <= bound, phases
    assert growth < sent / 20, phases  # stock kept about all of it (headers, forms, labels verbatim)
    assert sum(phases[-1]["growth"].values()) == 0  # refused bodies store nothing


def _outliers(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM Outlier").fetchone()[0]


def _request(url, data=None, headers=None, expect=200) -> int:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    assert status == expect, url
    return len(data or b"") + sum(len(k) + len(v) for k, v in (headers or {}).items())


def _oversized_body(port: int, path: str, length: int) -> int:
    """Announce ``length`` bytes, send 64 KiB of them, and read the answer: 413 at once."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {length}\r\n\r\n".encode() + b"[" * 65536)
        answer = b""
        while b"request_entity_too_large" not in answer and (chunk := sock.recv(4096)):
            answer += chunk
        answer = answer.decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "request_entity_too_large" in answer
    return 65536


def _checkpointed_size(path) -> int:
    with sqlite3.connect(path) as conn:
        for _ in range(50):
            if conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0:
                break
            time.sleep(0.1)
    return sum(os.path.getsize(f"{path}{suffix}") for suffix in ("", "-wal")
               if os.path.exists(f"{path}{suffix}"))


def _wait_for_rows(stores, count: int, timeout: float = 60) -> None:
    queries = {"dashboard": "SELECT COUNT(*) FROM Request", "profiler": "SELECT COUNT(*) FROM measurements"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {}
        for name, path in stores.items():
            with sqlite3.connect(path) as conn:
                found[name] = conn.execute(queries[name]).fetchone()[0]
        if all(n >= count for n in found.values()):
            return
        time.sleep(0.25)
    raise AssertionError(f"stores have {found} rows, expected {count}")


# 3. Leaks and crashes ---------------------------------------------------------------------

def test_store_files_are_private_whatever_the_umask(make_app, tmp_path):
    store = tmp_path / "mon"
    store.mkdir()
    legacy = store / "profiler.db"
    sqlite3.connect(legacy).close()
    os.chmod(legacy, 0o644)  # a store created by the previous version
    old_umask = os.umask(0o022)
    try:
        app = make_app("profiling", PERF_STORE_DIR=str(store), PERF_MONITOR_PASSWORD=PASSWORD,
                       SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}", PERF_SLOW_QUERY_MS=0,
                       PERF_WSGI_PROFILER_RESTRICTIONS=())
        with app.app_context():
            seed(SMALL, reset=True)
        client = app.test_client()
        for class_id in (1, 2, 3):
            assert client.get(f"/roster?class_id={class_id}").status_code == 200
        flush_monitoring(app)
        for writer in app.extensions["flask_perf"].writers.values():
            writer._save_health()
    finally:
        os.umask(old_umask)
    found = {}
    for root, dirs, files in os.walk(store):
        for name in dirs + files:
            path = os.path.join(root, name)
            found[os.path.relpath(path, store)] = stat.S_IMODE(os.stat(path).st_mode)
    for name in ("dashboard.db", "profiler.db", "slow_queries.db"):
        assert found[name] == 0o600, (name, oct(found[name]))
        assert found.get(name + "-wal", 0o600) == 0o600 and found.get(name + "-shm", 0o600) == 0o600
    assert any(n.endswith("-wal") for n in found) and any(n.startswith("health/") for n in found)
    assert any(n.endswith(".prof") for n in found)
    for name, mode in found.items():
        wanted = 0o700 if os.path.isdir(store / name) else 0o600
        if name.endswith(".prof"):
            assert found[os.path.dirname(name)] == 0o700  # written by werkzeug; the dir is ours
            continue
        assert mode == wanted, (name, oct(mode))


def test_credentials_are_redacted_by_pattern_at_any_depth(app, tmp_path):
    app.add_url_rule("/echo", "echo", echo, methods=["GET", "POST"])  # the tools wrap it when added
    client = app.test_client()
    headers = {"X-Session-Id": "h-session-1", "X-Client-Credential": "h-cred-2", "X-My-Pwd": "h-pwd-3",
               "X-Upstream-Auth": "h-auth-4", "Referer": "https://other.example/cb?access_token=h-ref-5&x=1"}
    assert client.get("/echo?user_pwd=a-pwd-6&sessionid=a-sess-7&ok=visible-1", headers=headers).status_code == 200
    assert client.post("/echo", data={"db_password": "f-pass-8", "apiKey": "f-key-9",
                                      "title": "visible-2"}).status_code == 200
    nested = {"user": {"profile": [{"name": "visible-3", "credentials": {"x": "j-cred-10"}},
                                   {"refresh_token": "j-tok-11", "deeper": [{"client_secret": "j-sec-12"}]}]}}
    assert client.post("/echo", json=nested).status_code == 200
    assert client.post("/echo", data='{"password": "t-pass-13", "n": 1', content_type="application/json"
                       ).status_code == 200  # malformed JSON: redacted as text
    assert client.post("/echo", data="token=t-tok-14&keep=visible-4", content_type="text/plain").status_code == 200
    assert client.get("/roster?class_id=1&session_token=o-tok-15", headers={
        "X-Session-Id": "o-sess-16", "Referer": "https://other.example/?token=o-ref-17"}).status_code == 200
    flush_monitoring(app)
    stored = json.dumps(contexts(tmp_path))
    outliers = dashboard_rows(tmp_path, "SELECT request_header, request_environment, request_url FROM Outlier")
    assert outliers  # /roster's first request is always an outlier
    stored += " ".join(v.decode() if isinstance(v, bytes) else str(v) for row in outliers for v in row)
    planted = ["h-session-1", "h-cred-2", "h-pwd-3", "h-auth-4", "h-ref-5", "a-pwd-6", "a-sess-7", "f-pass-8",
               "f-key-9", "j-cred-10", "j-tok-11", "j-sec-12", "t-pass-13", "t-tok-14", "o-tok-15", "o-sess-16",
               "o-ref-17"]
    assert [secret for secret in planted if secret in stored] == []
    for visible in ("visible-1", "visible-2", "visible-3", "visible-4"):
        assert visible in stored
    assert "[redacted]" in stored


def test_profiler_api_answers_at_most_the_row_cap(make_app, tmp_path):
    app = make_app("testing", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_MONITOR_PASSWORD=PASSWORD,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}", PERF_PROFILER_MAX_ROWS=3)
    with app.app_context():
        seed(SMALL, reset=True)
    client = app.test_client()
    for class_id in range(1, 7):
        assert client.get(f"/roster?class_id={class_id}").status_code == 200
    flush_monitoring(app)
    for limit in ("-1", "-99999", "100", str(10**30)):
        response = client.get(f"/flask-profile/api/measurements/?limit={limit}", headers=AUTH)
        assert response.status_code == 200 and len(response.get_json()["measurements"]) == 3, limit
    assert client.get("/flask-profile/api/measurements/?limit=2", headers=AUTH).get_json()["measurements"]
    grouped = client.get("/flask-profile/api/measurements/grouped?limit=-1", headers=AUTH)
    assert grouped.status_code == 200 and grouped.get_json()["measurements"][0]["count"] == 6
    for bad in ("abc", "1" * 5000):
        assert client.get(f"/flask-profile/api/measurements/?limit={bad}", headers=AUTH).status_code == 400


def test_anonymous_deploy_config_is_sent_to_login_not_500(app):
    response = app.test_client().get("/dashboard/api/deploy_config")
    assert response.status_code == 302 and "/dashboard/login" in response.headers["Location"]


WEAK_KEYS = [
    ("a" * 36, "only 1 distinct characters"),
    ("ab" * 20, "only 2 distinct characters"),
    ("abcdefgh" * 5, "repeats a pattern"),
    ("Z" * 20 + "abcdefghijklmnop", "over a third"),
    ("0123456701234567012345670123456x", "repeats a pattern"),
    ("aabbccddeeffgghh" * 2, "repeats a pattern"),
    ("my-secret-key", "well-known default"),
    ("short-but-random-Zx81", "shorter than 32"),
]


@pytest.mark.parametrize("key, reason", WEAK_KEYS)
def test_weak_production_secret_keys_are_refused(instance_path, key, reason):
    with pytest.raises(config.ConfigError, match=reason):
        create_app("production", {"INSTANCE_PATH": str(instance_path), "SECRET_KEY": key})


@pytest.mark.parametrize("key, reason", WEAK_KEYS[:3] + [(None, "missing")])
def test_flask_perf_refuses_a_weak_key_for_the_production_dashboard(tmp_path, key, reason):
    app = Flask("weak")
    app.config.update(SECRET_KEY=key, PERF_STORE_DIR=str(tmp_path), PERF_MONITOR_PASSWORD=PASSWORD)
    with pytest.raises(ConfigError, match=reason):
        FlaskPerf(app, profile="production")
    without_dashboard = Flask("weak-no-dashboard")
    without_dashboard.config.update(SECRET_KEY=key, PERF_STORE_DIR=str(tmp_path / "b"),
                                    PERF_DASHBOARD_ENABLED=False, PERF_SLOW_QUERY_ENABLED=False)
    FlaskPerf(without_dashboard, profile="production")  # nothing signs an admin session


@pytest.mark.parametrize("key", ["9dc0fc44dec1724118b6c07f1da27c4e",  # secrets.token_hex(16)
                                 "WF7kW28OVB-4MkyCNesYLo3zaLjF00bW7PvhXxXfkWw",  # token_urlsafe(32)
                                 "board-test-secret-key-not-for-production"])
def test_random_keys_are_accepted(instance_path, key):
    app = create_app("production", {"INSTANCE_PATH": str(instance_path), "SECRET_KEY": key})
    assert app.config["SECRET_KEY"] == key


# The same payload, stored by an anonymous request, in the admin's real browser -----------

@pytest.fixture(scope="module")
def dev_server(tmp_path_factory):
    require_command("chromium")
    instance = tmp_path_factory.mktemp("xss")
    with development_server(instance, ("--students", "60", "--classes", "6", "--per-student", "2"),
                            APP_PERF_MONITOR_PASSWORD=PASSWORD) as proc:
        yield proc


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def admin_page(chromium, request):
    context = chromium.new_context(http_credentials={"username": "admin", "password": PASSWORD})
    page = context.new_page()
    page.dialogs, page.errors, page.csp_reports = [], [], []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda msg: "Content Security Policy" in msg.text and page.csp_reports.append(msg.text))
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def _store_payload(server, marker: str) -> None:
    """An anonymous request carrying the payload in a header and a query argument."""
    query = urllib.parse.urlencode({"class_id": 2, "note": PAYLOAD + marker})
    request = urllib.request.Request(f"{server.url}/stats?{query}", headers={"X-Note": PAYLOAD + marker})
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    _wait_for_measurement(server.url, marker)


@pytest.mark.browser
@pytest.mark.server
@pytest.mark.parametrize("csp, script", [("served", "ours"), ("stripped", "ours"), ("served", "upstream")])
def test_stored_payload_stays_text_in_the_admins_browser(dev_server, admin_page, csp, script):
    """Each defence holds alone: the escaped script without the policy, the policy
    with flask-profiler's original script."""
    page, marker = admin_page, f"{csp}-{script}-{secrets.token_hex(4)}"
    _store_payload(dev_server, marker)
    _tamper(page, csp, script)
    response = page.goto(dev_server.url + "/flask-profile/")
    if csp == "served":
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["x-frame-options"] == "DENY"
    page.click('a[data-target="#tab-filtering"]')
    page.locator("#filteredTable tbody tr td.name", has_text="/stats").first.wait_for(timeout=20_000)
    page.wait_for_timeout(500)  # an onerror would have fired by now
    assert page.dialogs == [] and page.errors == []
    if script == "upstream":  # the attribute is broken, the <img> is there, its handler blocked
        assert page.locator("img[src='x']").count() >= 1
        assert any("script-src" in report for report in page.csp_reports), page.csp_reports
        return
    assert page.locator("img[src='x']").count() == 0
    row = page.locator("#filteredTable tbody tr", has=page.locator(f"span[data-json*='{marker}']")).first
    data = json.loads(row.locator("span[data-json]").get_attribute("data-json"))
    assert data["headers"]["X-Note"] == data["args"]["note"] == PAYLOAD + marker  # intact, as text
    row.click()
    modal = page.locator(".filteredModal .modal-body")
    modal.get_by_text(marker).first.wait_for(timeout=10_000)
    assert PAYLOAD + marker in modal.inner_text()  # shown as text


@pytest.mark.browser
@pytest.mark.server
def test_without_either_defence_the_payload_runs(dev_server, admin_page):
    """The control: stock flask-profiler (its script, no policy) runs the stored payload,
    so the test above would catch a regression of either defence."""
    page, marker = admin_page, f"control-{secrets.token_hex(4)}"
    _store_payload(dev_server, marker)
    _tamper(page, "stripped", "upstream")
    page.goto(dev_server.url + "/flask-profile/")
    page.click('a[data-target="#tab-filtering"]')
    deadline = time.monotonic() + 20
    while not page.dialogs and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert page.dialogs, "the stored payload did not run: the control is broken"


@pytest.mark.browser
@pytest.mark.server
def test_dashboard_and_profiler_work_under_the_policy(dev_server, admin_page):
    page = admin_page
    with urllib.request.urlopen(f"{dev_server.url}/roster?class_id=1") as response:
        assert response.status == 200
    page.goto(dev_server.url + "/dashboard/login")
    page.fill("input[name=name]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[name=Login]")
    page.wait_for_url("**/dashboard/overview")
    page.locator("tr", has_text="school.roster").first.wait_for(timeout=20_000)  # AngularJS rendered it
    page.goto(dev_server.url + "/dashboard/hourly_load")
    page.wait_for_selector(".main-svg", timeout=20_000)  # Plotly drew
    page.goto(dev_server.url + "/dashboard/configuration")
    page.wait_for_load_state("networkidle")
    page.goto(dev_server.url + "/flask-profile/")
    page.locator("#big-users-table tbody tr td.name", has_text="/roster").first.wait_for(timeout=20_000)
    page.wait_for_selector("#pieChart svg", timeout=20_000)  # c3 drew
    page.click('a[data-target="#tab-filtering"]')
    page.locator("#filteredTable tbody tr td.name", has_text="/roster").first.wait_for(timeout=20_000)
    assert page.errors == [] and page.dialogs == []
    assert page.csp_reports == []  # nothing the pages need was blocked


def _tamper(page, csp: str, script: str) -> None:
    """Drop the policy from the page (``csp="stripped"``) and/or serve flask-profiler's
    original main.js (``script="upstream"``), to test each defence alone."""
    if csp == "stripped":
        def without_csp(route):
            response = route.fetch()
            headers = {k: v for k, v in response.headers.items() if k.lower() != "content-security-policy"}
            route.fulfill(response=response, headers=headers)
        page.route("**/flask-profile/", without_csp)
    if script == "upstream":
        page.route("**/static/dist/js/main.js", lambda route: route.fulfill(
            body=profiler_assets.UPSTREAM.read_text(), content_type="text/javascript"))


def _wait_for_measurement(base: str, marker: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        request = urllib.request.Request(base + "/flask-profile/api/measurements/?name=/stats", headers=AUTH)
        with urllib.request.urlopen(request) as response:
            if marker in response.read().decode():
                return
        time.sleep(0.25)
    raise AssertionError("the request was not recorded")


# 4. What the caps did not reach: the slow-query log's parameters, FMD's exception messages ----

def slow_echo():
    """Statements whose parameters come from the request: one named like a secret
    (``token = ?``), one of request size, and an IN list of 3,000 ids."""
    from flask import request
    from sqlalchemy import bindparam, text

    from webapp.extensions import db

    db.session.execute(text("WITH t(token, label) AS (VALUES ('a', 'b')) "
                            "SELECT count(*) FROM t WHERE token = :token OR label = :label"),
                       {"token": request.form["token"], "label": request.form["label"]})
    in_list = text("SELECT count(*) FROM students WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
    db.session.execute(in_list, {"ids": list(range(1, 3001))})
    return "ok"


def boom():
    """A view whose error message carries request text, as an app's own
    ``raise ValueError(f"bad value: {value}")`` does."""
    from flask import request

    raise ValueError("bad value: " + request.args.get("v", ""))


def test_slow_query_parameters_are_capped_and_redacted(make_app, tmp_path, caplog):
    app = make_app("testing", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_SLOW_QUERY_MS=0,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}")
    with app.app_context():
        seed(SMALL, reset=True)
    app.add_url_rule("/slow-echo", "slow_echo", slow_echo, methods=["POST"])
    label = "L" * 100_000
    with caplog.at_level("WARNING", logger="flask_perf.slow_queries"):
        response = app.test_client().post("/slow-echo", data={"token": "hunter2-slow", "label": label})
    assert response.status_code == 200
    flush_monitoring(app)
    with sqlite3.connect(tmp_path / "mon" / "slow_queries.db") as conn:
        rows = dict(conn.execute("SELECT statement, parameters FROM slow_query"))
    echo = next(p for s, p in rows.items() if "WITH t(token, label)" in s)
    in_list = next(p for s, p in rows.items() if "FROM students WHERE id IN" in s)
    assert json.loads(echo) == [["[redacted]", "L" * 512 + "…[truncated 99488 chars]"]]
    kept = json.loads(in_list)[0]  # the first ids whole, then how many were dropped
    assert kept[:3] == [1, 2, 3] and re.fullmatch(r"\[(\d+) more items truncated\]", kept[-1])
    assert int(kept[-1][1:].split()[0]) + len(kept) - 1 == 3000
    for stored in rows.values():
        assert len(stored) <= app.config["PERF_MAX_RECORD_CHARS"]
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "flask_perf.slow_queries")
    assert "hunter2-slow" not in logged and "L" * 1000 not in logged and "[redacted]" in logged
    with open(tmp_path / "mon" / "slow_queries.db", "rb") as store:
        assert b"hunter2-slow" not in store.read()


def test_slow_query_parameters_by_name_keep_their_shape():
    from flask_perf.limits import Caps
    from flask_perf.redaction import SENSITIVE_WORDS
    from flask_perf.sql.slow_queries import stored_parameters

    caps, words = Caps(), SENSITIVE_WORDS
    assert stored_parameters("SELECT 1 FROM t WHERE id = ?", [(3,)], caps, words) == [[3]]
    named = [{"password_hash_1": "h", "name_1": "n" * 600}]  # PyMySQL's %(name)s style
    assert stored_parameters("SELECT 1 FROM users WHERE password_hash = %(password_hash_1)s AND "
                             "name = %(name_1)s", named, caps, words) == \
        [{"password_hash_1": "[redacted]", "name_1": "n" * 512 + "…[truncated 88 chars]"}]
    insert = "INSERT INTO users (name, api_key, note) VALUES (?, ?, ?)"
    assert stored_parameters(insert, [("ada", "k-1", "x"), ("bob", "k-2", "y")], caps, words) == \
        [["ada", "[redacted]", "x"], ["bob", "[redacted]", "y"]]
    update = "UPDATE users SET session_token=? WHERE users.id = ?"
    assert stored_parameters(update, [("t-1", 7)], caps, words) == [["[redacted]", 7]]


@pytest.mark.parametrize("level", [1, 2])
def test_dashboard_exception_messages_are_capped_and_redacted(make_app, tmp_path, level):
    app = make_app("development", PERF_STORE_DIR=str(tmp_path / "mon"), PERF_MONITOR_PASSWORD=PASSWORD,
                   SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'school.db'}", PERF_TOOLBAR_ENABLED=False,
                   PERF_DASHBOARD_LEVEL=level, PROPAGATE_EXCEPTIONS=False)
    app.add_url_rule("/boom", "boom", boom)
    client = app.test_client()
    attacker = "password=hunter2-exc " + "A" * 20_000
    assert client.get("/boom", query_string={"v": attacker}).status_code == 500
    assert client.get("/boom", query_string={"v": "short"}).status_code == 500
    flush_monitoring(app)
    messages = [m for (m,) in dashboard_rows(tmp_path, "SELECT message FROM ExceptionMessage ORDER BY id")]
    cut = len("bad value: password=[redacted] ") + 20_000 - app.config["PERF_MAX_FIELD_CHARS"]
    assert messages == ["bad value: password=[redacted] " + "A" * (512 - 31) + f"…[truncated {cut} chars]",
                        "bad value: short"]
    occurrences = dashboard_rows(tmp_path, "SELECT COUNT(*) FROM ExceptionOccurrence")[0][0]
    assert occurrences == 2


def test_redacting_a_long_run_of_word_characters_finishes_and_still_redacts():
    """A raw body of ``passpass…`` once cost quadratic time on the request thread (2 KB: ~20 s
    of CPU); the pairs are now found from a name's start only."""
    import threading

    from flask_perf.redaction import SENSITIVE_WORDS, redact_text

    body = "pass" * 50_000 + "=hunter2 & note=" + "x" * 100_000 + " api_key: s3cr3t"
    result = []
    worker = threading.Thread(target=lambda: result.append(redact_text(body, SENSITIVE_WORDS)), daemon=True)
    worker.start()
    worker.join(30)  # the quadratic pattern needed hours for this
    assert result, "redaction of a 300 KB body did not finish in 30 s"
    assert "hunter2" not in result[0] and "s3cr3t" not in result[0]
    assert result[0].endswith("api_key: [redacted]") and "note=xxx" in result[0]
