"""Debian's sqlmap against one target of the probe, and a planted injection it must find.

``run(target, workdir)`` runs ``sqlmap --batch`` with bounded options (``OPTIONS``: level 2,
risk 1, boolean/error/UNION/stacked techniques, 5 s per request, no retries) under a
wall-clock limit, logs its traffic, and reads the verdict from its output:

- ``injectable``: sqlmap reported an injection point;
- ``not injectable``: it tested at least one parameter, sent requests, got a 2xx answer
  to its first request (the target, not a login page) and reported no injection;
- ``error``: anything else (nothing tested, a timeout, lost login, sqlmap failed).

The probe fails on anything but ``not injectable``, so a broken invocation cannot pass.
``planted_injection()`` serves ``/item?id=`` pasting ``id`` into SQLite's SQL: the probe
expects ``injectable`` there, which shows the verdict parsing can see an injection.
"""
import collections
import contextlib
import http.server
import json
import re
import shutil
import sqlite3
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

OPTIONS = ("--level", "2", "--risk", "1", "--technique", "BEUS", "--time-sec", "1",
           "--timeout", "5", "--retries", "0", "--flush-session", "--disable-coloring", "--skip-waf")
TIMEOUT_S = 120  # per target
LOGIN_LOST = (302, 401, 403, 429)  # answers that mean the target's login no longer held

_PLACE = r"((?:\(custom\) )?[A-Za-z-]+) parameter '([^']+)'"  # "GET parameter 'id'", "URI parameter '#1*'"
_TESTED = re.compile(r"testing for SQL injection on " + _PLACE)
_FOUND = re.compile(_PLACE + r" (?:appears to be '.+' injectable|is vulnerable)")
_IDENTIFIED = "identified the following injection point"
_ALL_CLEAN = "all tested parameters do not appear to be injectable"
_RESPONSE = re.compile(r"^HTTP response \[#\d+\] \((\d{3})", re.MULTILINE)
_REQUEST = re.compile(r"^HTTP request \[#\d+\]", re.MULTILINE)


@dataclass(frozen=True)
class Target:
    name: str  # what the table shows: "GET /stats?class_id=2"
    url: str  # URI injection points marked with "*"
    data: str | None = None  # a POST body (form or JSON)
    cookie: str | None = None
    auth: str | None = None  # "user:password", sent as HTTP basic auth
    headers: tuple[str, ...] = ()
    params: tuple[str, ...] = ()  # sqlmap -p; empty: every marked or found parameter
    skip: tuple[str, ...] = ()  # sqlmap --skip (the session cookie of a logged-in target)
    logged_in: bool = False  # a 302/401/403/429 answer means the login was lost


def available() -> str | None:
    """sqlmap's version line, or None when it is not on PATH."""
    if shutil.which("sqlmap") is None:
        return None
    done = subprocess.run(["sqlmap", "--version"], capture_output=True, text=True, timeout=60)
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else "sqlmap"


def argv(target: Target, out: Path) -> list[str]:
    args = ["sqlmap", "-u", target.url, "--batch", *OPTIONS, "--output-dir", str(out),
            "-t", str(out / "traffic.txt")]
    if target.data is not None:
        args += ["--data", target.data]
    if target.cookie:
        args += ["--cookie", target.cookie]
    if target.auth:
        args += ["--auth-type", "Basic", "--auth-cred", target.auth]
    if target.headers:
        args += ["--headers", "\n".join(target.headers)]
    if target.params:
        args += ["-p", ",".join(target.params)]
    if target.skip:
        args += ["--skip", ",".join(target.skip)]
    return args


def run(target: Target, workdir: Path, timeout_s: float = TIMEOUT_S) -> dict:
    """sqlmap against ``target``: its verdict, the parameters it tested, requests, seconds."""
    out = workdir / re.sub(r"[^A-Za-z0-9]+", "-", target.name).strip("-")
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        done = subprocess.run(argv(target, out), capture_output=True, text=True, timeout=timeout_s,
                              stdin=subprocess.DEVNULL)
        output, returncode, timed_out = done.stdout + done.stderr, done.returncode, False
    except subprocess.TimeoutExpired as expired:
        output = (expired.stdout or b"").decode(errors="replace") if isinstance(expired.stdout, bytes) \
            else (expired.stdout or "")
        returncode, timed_out = None, True
    seconds = time.monotonic() - started
    (out / "sqlmap.log").write_text(output)
    traffic = (out / "traffic.txt").read_text(errors="replace") if (out / "traffic.txt").exists() else ""
    return {"target": target.name, "url": target.url, **verdict(target, output, traffic, timed_out),
            "seconds": round(seconds, 1), "returncode": returncode, "log": str(out / "sqlmap.log")}


def verdict(target: Target, output: str, traffic: str, timed_out: bool = False) -> dict:
    """What one sqlmap run found, from its console output and its traffic log."""
    tested = list(dict.fromkeys(f"{place} {name}" for place, name in _TESTED.findall(output)))
    found = list(dict.fromkeys(f"{place} {name}" for place, name in _FOUND.findall(output)))
    statuses = collections.Counter(int(code) for code in _RESPONSE.findall(traffic))
    first = _RESPONSE.search(traffic)
    result = {"parameters": tested, "requests": len(_REQUEST.findall(traffic)),
              "statuses": {str(code): n for code, n in sorted(statuses.items())}}
    if found or _IDENTIFIED in output:
        return {**result, "verdict": "injectable", "found": found}
    problem = None
    lost = sum(statuses[code] for code in LOGIN_LOST)
    if timed_out:
        problem = "timed out"
    elif not tested or _ALL_CLEAN not in output:
        problem = _last_error(output) or "sqlmap tested no parameter"
    elif not result["requests"] or first is None or not 200 <= int(first.group(1)) < 300:
        problem = f"its first request was answered {first.group(1) if first else 'nothing'}, not 2xx"
    elif target.logged_in and lost > 0.05 * result["requests"]:
        problem = f"lost its login: {lost} of {result['requests']} answers were {LOGIN_LOST}"
    if problem:
        return {**result, "verdict": "error", "problem": problem}
    return {**result, "verdict": "not injectable"}


def _last_error(output: str) -> str | None:
    lines = [line for line in output.splitlines() if "[CRITICAL]" in line or "[ERROR]" in line]
    return lines[-1].split("] ", 2)[-1] if lines else None


class _PlantedHandler(http.server.BaseHTTPRequestHandler):
    """``GET /item?id=N``: the row of ``items`` whose id is N -- with N pasted into the SQL."""

    db: sqlite3.Connection
    lock: threading.Lock
    timeout = 10  # an idle connection does not hold its thread longer

    def do_GET(self):  # noqa: N802 - http.server's name
        ident = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("id", ["1"])[0]
        try:
            with self.lock:
                rows = self.db.execute(f"SELECT id, name FROM items WHERE id = {ident}").fetchall()  # noqa: S608
        except sqlite3.Error:
            rows = []
        encoded = json.dumps({"items": rows}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        with contextlib.suppress(OSError):  # sqlmap may hang up first
            self.wfile.write(encoded)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def planted_injection():
    """The URL of a loopback server with a SQL injection in ``/item?id=1``."""
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    db.executemany("INSERT INTO items VALUES (?, ?)", [(1, "chalk"), (2, "slate"), (3, "sponge")])
    handler = type("Planted", (_PlantedHandler,), {"db": db, "lock": threading.Lock()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/item?id=1"
    finally:
        server.shutdown()
        server.server_close()
        db.close()
