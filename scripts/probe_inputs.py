"""The probe's bad-input run: hostile requests, the answers, and what the stores kept of them.

``attacks(scale)`` lists (name, expected answers, send) -- oversized headers, run labels
and bodies, XSS payloads, planted secrets -- each ``send(base_url, port)`` returning the
status of every request (0: no answer) and the bytes it sent. ``sizes`` / ``settle``
measure every store file under the instance folder (each ``*.db`` with its ``-wal``):
``settle`` waits until no size changes for 1 s longer than the writers linger
(flask_perf.stores.writer.DEFAULT_LINGER_S), then
checkpoints each WAL into its database (TRUNCATE) so two measurements compare.
``find_secrets`` greps the bytes of every store file for the planted values.

Bound (``bound``): every request may make the stores keep at most PER_REQUEST_BYTES --
three capped records of PERF_MAX_RECORD_CHARS (16 KiB: flask-profiler's context, an FMD
outlier's headers and its environ) and 16 KiB for rows, indexes, stack samples and
rollups -- plus SLACK_BYTES per measurement for SQLite's page allocation.
"""
import base64
import collections
import json
import os
import select
import socket
import sqlite3
import time
from pathlib import Path

import requests

from flask_perf.stores.writer import DEFAULT_LINGER_S

PER_REQUEST_BYTES = 64 * 1024
SLACK_BYTES = 512 * 1024
MB20 = 20 * 1024 * 1024
XSS = "'\"><img src=x onerror=alert(document.domain)><script>alert(1)</script>"
SLOW_BODY_S = 1.0  # a request answered slower than this is a finding


def secrets_planted() -> dict[str, str]:
    """Name → value of every secret the run sends, each under a name redaction must catch."""
    return {"nested JSON password": "hunter2", "query password": "hunter2-query",
            "form api_key": "hunter2-form", "X-Auth-Token header": "hunter2-header",
            "Cookie session_id": "hunter2-cookie", "Referer access_token": "hunter2-referer",
            "basic auth password": "hunter2-basic", "JSON refresh_token in a list": "hunter2-list"}


def bound(requests_sent: int) -> int:
    return requests_sent * PER_REQUEST_BYTES + SLACK_BYTES


# Sending ------------------------------------------------------------------------------------

def _http(method: str, url: str, **kwargs) -> int:
    try:
        with requests.request(method, url, timeout=60, allow_redirects=False, **kwargs) as response:
            return response.status_code
    except requests.RequestException:
        return 0


def _size(headers=None, data=None) -> int:
    body = len(data) if isinstance(data, (bytes, str)) else len(json.dumps(data or ""))
    return body + sum(len(k) + len(v) for k, v in (headers or {}).items())


def _raw(port: int, head: bytes, body_bytes: int = 0, chunked: bool = False) -> tuple[int, int]:
    """Send ``head`` and up to ``body_bytes`` of body until the server answers: (status, bytes sent)."""
    sent, chunk = 0, b"[" * 262_144
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(head)
            sent = len(head)
            while sent - len(head) < body_bytes and not select.select([sock], [], [], 0)[0]:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                sent += len(chunk)
            if chunked and sent - len(head) >= body_bytes:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed while the body was on its way
        try:
            while b"\r\n" not in answer and (data := sock.recv(4096)):
                answer += data
        except OSError:
            pass
    parts = answer.split(b" ", 2)
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0), sent


def _repeat(times: int, fn) -> tuple[list[int], int]:
    statuses, sent = [], 0
    for _ in range(times):
        status, size = fn()
        statuses.append(status)
        sent += size
    return statuses, sent


def _get(url, headers=None):
    return lambda: (_http("GET", url, headers=headers), _size(headers))


def _post(url, data=None, json_body=None, headers=None):
    payload = data if data is not None else json.dumps(json_body)
    headers = {"Content-Type": "application/json", **(headers or {})} if json_body is not None else headers
    return lambda: (_http("POST", url, data=payload, headers=headers), _size(headers, payload))


def _head(path: str, *lines: bytes, method: bytes = b"GET") -> bytes:
    return b"%s %s HTTP/1.1\r\nHost: probe\r\n%sConnection: close\r\n\r\n" % (
        method, path.encode(), b"".join(line + b"\r\n" for line in lines))


# The attacks --------------------------------------------------------------------------------

def attacks(scale: float = 1.0) -> list[tuple[str, set, object]]:
    """(name, expected statuses, send(base, port) → (statuses, bytes sent)); ``scale`` < 1
    sends fewer repetitions of each (the quick run)."""
    def n(count: int) -> int:
        return max(1, round(count * scale))

    planted = secrets_planted()
    big_headers = {f"X-Filler-{i}": "h" * 8000 for i in range(90)}  # within gunicorn's 8190 / 100
    form = "&".join(f"f{i}={'v' * 2000}" for i in range(200))
    wide_json = {f"k{i}": "j" * 900 for i in range(1000)}
    deep_json = "[" * 50_000 + "]" * 50_000
    labels = [b"probe-run-1", b"a\x01b\x1b[31mred\x7f", b"nul\x00byte", b"\xff\xfe latin-1 \xe9",
              XSS.encode(), b"r" * 65, b"x" * 4096]
    basic = base64.b64encode(f"probe:{planted['basic auth password']}".encode()).decode()
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}

    def secrets(base, _port):
        sends = [
            _post(base + "/enrollments", json_body={"a": {"password": planted["nested JSON password"]}}),
            _get(base + f"/stats?class_id=2&password={planted['query password']}"),
            _post(base + "/enrollments", data=f"api_key={planted['form api_key']}&note=x", headers=form_type),
            _get(base + "/roster?class_id=1", {"X-Auth-Token": planted["X-Auth-Token header"],
                                               "Cookie": f"session_id={planted['Cookie session_id']}",
                                               "Authorization": f"Basic {basic}",
                                               "Referer": "https://elsewhere.example/cb?access_token="
                                                          + planted["Referer access_token"]}),
            _post(base + "/enrollments", json_body={"items": [{"refresh_token": planted[
                "JSON refresh_token in a list"]}]}),
        ]
        return _repeat_each(sends)

    def xss(base, _port):
        return _repeat_each([
            _get(base + "/stats?class_id=2", {"X-Note": XSS, "User-Agent": XSS}),
            lambda: (_http("GET", base + "/stats", params={"class_id": "2", "note": XSS}), len(XSS)),
            _get(base + "/no-such-page/" + requests.utils.quote(XSS)),
            _post(base + "/enrollments", data={"note": XSS, XSS: "x"}),
            _post(base + "/enrollments", json_body={"note": XSS, XSS: [XSS]}),
        ])

    def oversized(path: str, content_type: bytes):
        head = lambda port: _head(path, b"Content-Type: " + content_type, b"Content-Length: %d" % MB20,  # noqa: E731
                                  method=b"POST")
        return lambda base, port: _repeat(1, lambda: _raw(port, head(port), MB20))

    return [
        ("90 headers × 8,000 chars (GET /stats)", {200},
         lambda base, port: _repeat(n(12), _get(base + "/stats?class_id=2", big_headers))),
        ("20 headers × 16 KB (gunicorn's line limit is 8,190)", {400, 431},
         lambda base, port: _repeat(n(5), lambda: _raw(port, _head(
             "/stats?class_id=2", *(b"X-Big-%d: %s" % (i, b"h" * 16384) for i in range(20)))))),
        ("150 headers (gunicorn's limit is 100)", {400, 431},
         lambda base, port: _repeat(n(3), lambda: _raw(port, _head(
             "/roster?class_id=1", *(b"X-Many-%d: m" % i for i in range(150)))))),
        ("4 KB X-Loadtest-Run labels", {200},
         lambda base, port: _repeat(n(50), _get(base + "/roster?class_id=1", {"X-Loadtest-Run": "r" * 4096}))),
        ("odd run labels: valid, control chars, NUL, Latin-1, HTML, 65 chars", {200, 400},
         lambda base, port: _repeat_each([
             (lambda label=label: _raw(port, _head("/roster?class_id=1", b"X-Loadtest-Run: " + label)))
             for label in labels])),
        ("XSS payloads in headers, query, path, form, JSON", {200, 400, 404}, xss),
        ("secrets: nested JSON, query, form, headers, cookie, basic auth, Referer", {200, 400}, secrets),
        ("400 KB form of 200 fields (POST /enrollments)", {400},
         lambda base, port: _repeat(n(10), _post(base + "/enrollments", data=form, headers=form_type))),
        ("900 KB JSON of 1,000 keys (POST /enrollments)", {400},
         lambda base, port: _repeat(n(10), _post(base + "/enrollments", json_body=wide_json))),
        ("JSON nested 50,000 deep (POST /enrollments)", {400},
         lambda base, port: _repeat(n(2), _post(base + "/enrollments", data=deep_json,
                                                headers={"Content-Type": "application/json"}))),
        ("20 MB body, Content-Length (POST /enrollments)", {413}, oversized("/enrollments", b"application/json")),
        ("20 MB body, Content-Length (POST /dashboard/login)", {413},
         oversized("/dashboard/login", b"application/x-www-form-urlencoded")),
        ("20 MB body, Content-Length (/flask-profile API)", {413, 404},
         oversized("/flask-profile/api/measurements/", b"application/json")),
        ("20 MB chunked body, no Content-Length (POST /enrollments)", {413},
         lambda base, port: _repeat(1, lambda: _raw(port, _head(
             "/enrollments", b"Content-Type: application/json", b"Transfer-Encoding: chunked", method=b"POST"),
             MB20, chunked=True))),
        ("1 KB text body of 'pass' × 256 (POST /enrollments)", {200, 201, 400, 409},
         lambda base, port: _repeat(1, _post(base + "/enrollments?student_id=1&class_id=1", data="pass" * 256,
                                             headers={"Content-Type": "text/plain"}))),
    ]


def _repeat_each(sends) -> tuple[list[int], int]:
    statuses, sent = [], 0
    for send in sends:
        status, size = send()
        statuses.append(status)
        sent += size
    return statuses, sent


def run_attack(name: str, expected: set, send, base: str, port: int) -> dict:
    started = time.monotonic()
    statuses, sent = send(base, port)
    seconds = time.monotonic() - started
    counts = collections.Counter(statuses)
    return {"attack": name, "requests": len(statuses), "bytes_sent": sent, "seconds": round(seconds, 2),
            "statuses": {str(code): count for code, count in sorted(counts.items())},
            "expected": sorted(expected), "ok": set(counts) <= expected}


# The stores ---------------------------------------------------------------------------------

def store_files(instance: Path) -> list[Path]:
    return sorted(instance.rglob("*.db"))


def sizes(instance: Path) -> dict[str, int]:
    """Bytes of each store (the database and its -wal), by path under ``instance``."""
    found = {}
    for path in store_files(instance):
        found[str(path.relative_to(instance))] = sum(
            os.path.getsize(f"{path}{suffix}") for suffix in ("", "-wal") if os.path.exists(f"{path}{suffix}"))
    return found


def checkpoint(instance: Path) -> bool:
    """Fold each store's WAL into its database; False when a store stayed busy."""
    done = True
    for path in store_files(instance):
        with sqlite3.connect(path, timeout=5) as conn:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                continue
            for _ in range(25):
                if conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0:
                    break
                time.sleep(0.1)
            else:
                done = False
        conn.close()
    return done


def settle(instance: Path, quiet_s: float = DEFAULT_LINGER_S + 1, timeout_s: float = 30) -> dict[str, int]:
    """The store sizes once nothing has been written for ``quiet_s``, WALs checkpointed."""
    deadline, last, still_since = time.monotonic() + timeout_s, None, time.monotonic()
    while time.monotonic() < deadline:
        now = sizes(instance)
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= quiet_s:
            break
        time.sleep(0.2)
    checkpoint(instance)
    return sizes(instance)


def growth(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after.get(name, 0) - before.get(name, 0) for name in sorted(set(before) | set(after))
            if after.get(name, 0) != before.get(name, 0)}


def find_secrets(instance: Path, needles: dict[str, str]) -> dict[str, list[str]]:
    """Needle name → the store files (databases, WALs, shared memory, .prof, health files)
    whose bytes contain it."""
    files = [p for p in instance.rglob("*") if p.is_file() and (
        p.suffix in (".db", ".prof") or p.name.endswith(("-wal", "-shm")) or p.parent.name == "health")]
    found = {}
    for path in files:
        data = path.read_bytes()
        for name, value in needles.items():
            if value.encode() in data:
                found.setdefault(name, []).append(str(path.relative_to(instance)))
    return found
