"""The grading service's HTTP server: the standard library's ThreadingHTTPServer.

One thread per connection, so concurrent callers wait side by side, as they would
on a real remote API; HTTP/1.1 keep-alive, so a client's connection pool is used.
It only answers; it keeps no state beyond its settings.
"""
import json
import random
import re
import sys
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEFAULT_PORT = 5055
MAX_ID = 2**31 - 1
MAX_DELAY_MS = 60_000
_GRADE_PATH = re.compile(r"/grades/(.*)")
_DIGITS = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True)
class GradingSettings:
    latency_ms: float = 20.0
    jitter_ms: float = 0.0  # up to this much more, uniformly drawn per request
    access_log: bool = False

    def delay_s(self) -> float:
        extra = random.uniform(0, self.jitter_ms) if self.jitter_ms else 0.0
        return (self.latency_ms + extra) / 1000


def grade_for(student_id: int) -> int:
    """A grade from 40 to 100 that depends only on the id, so reports can be checked."""
    return 40 + (student_id * 7919) % 61


class GradingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: callers reuse their pooled connections
    # Headers and body leave in two writes: with Nagle's algorithm the second waits for
    # the caller's delayed ACK, adding ~40 ms to every answer on a kept-alive connection.
    disable_nagle_algorithm = True
    server_version = "grading-service/1"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/health":
            settings = self.server.settings
            return self._send(200, {"status": "ok", "latency_ms": settings.latency_ms,
                                    "jitter_ms": settings.jitter_ms})
        match = _GRADE_PATH.fullmatch(parts.path)
        if not match:
            return self._send(404, {"error": "not_found", "message": f"no resource at {parts.path}"})
        raw = match.group(1)
        if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_ID:
            return self._send(400, {"error": "bad_request",
                                    "message": f"student id must be an integer from 1 to {MAX_ID}"})
        delay = self._delay(parse_qs(parts.query).get("delay_ms"))
        if delay is None:
            return self._send(400, {"error": "bad_request",
                                    "message": f"delay_ms must be an integer from 0 to {MAX_DELAY_MS}"})
        time.sleep(delay)  # the remote side's own work: this process, not the caller's
        student_id = int(raw)
        self._send(200, {"student_id": student_id, "grade": grade_for(student_id), "scale": 100})

    def _delay(self, values: list[str] | None) -> float | None:
        if not values:
            return self.server.settings.delay_s()
        if len(values) != 1 or not _DIGITS.fullmatch(values[0]) or int(values[0]) > MAX_DELAY_MS:
            return None
        return int(values[0]) / 1000

    def _send(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        if self.server.settings.access_log:
            super().log_message(format, *args)


class GradingServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 refuses bursts of callers

    def __init__(self, address: tuple[str, int], settings: GradingSettings):
        self.settings = settings
        super().__init__(address, GradingHandler)

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a caller that gave up waiting (its timeout): not our error
        super().handle_error(request, client_address)


def make_server(host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                settings: GradingSettings | None = None) -> GradingServer:
    """Bind (raises OSError when the port is taken); ``port=0`` picks a free one."""
    return GradingServer((host, port), settings or GradingSettings())


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          settings: GradingSettings | None = None, announce=None) -> None:
    """Bind, say where (``announce``, default: print), and answer until interrupted."""
    server = make_server(host, port, settings)
    settings = server.settings
    jitter = f" + up to {settings.jitter_ms:g} ms" if settings.jitter_ms else ""
    line = (f"grading service on http://{host}:{server.server_address[1]} "
            f"(latency {settings.latency_ms:g} ms{jitter})")
    if announce is None:
        print(line, flush=True)
    else:
        announce(line)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
