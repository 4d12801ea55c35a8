"""A dummy OTLP/HTTP collector on loopback: reads each export and answers 200, stores nothing.

OpenTelemetry's exporter serialises and sends every batch as it would to a real
collector (that work is the peer's cost); this end only drains the socket, so the
benchmark needs no collector binary and nothing leaves the machine.
"""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Drain(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args):
        pass


def start_collector() -> str:
    """Serve in a daemon thread of this process; the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drain)
    threading.Thread(target=server.serve_forever, name="dummy-otlp-collector", daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"
