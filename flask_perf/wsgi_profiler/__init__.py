"""werkzeug's ProfilerMiddleware: one cProfile ``.prof`` file per request.

Reads PERF_WSGI_PROFILER_ENABLED, PERF_WSGI_PROFILER_RESTRICTIONS (stats printed per request,
default ``(5,)``; ``[]`` prints nothing), PERF_WSGI_PROFILER_KEEP (newest N files kept)
and WSGI_PROFILER_DIR (default ``profiles/`` in the monitoring dir).

Works around two werkzeug defaults: file names with 1-second resolution (under load
most files overwrite each other; ours carry nanoseconds and the pid) and an
unbounded directory (we keep the newest N).
"""
import os
import re
import sys
import time

from werkzeug.middleware.profiler import ProfilerMiddleware

from flask_perf.stores.engines import private_dir

NAME = re.compile(r"^(?P<method>[A-Z]+)\.(?P<path>.+)\.(?P<ms>\d+)ms\.(?P<ns>\d+)\.(?P<pid>\d+)\.prof$")


def profile_dir(app) -> str:
    return app.config.get("WSGI_PROFILER_DIR") or os.path.join(app.config["PERF_STORE_DIR"], "profiles")


class ProfileFiles:
    """Names ``.prof`` files uniquely and keeps the directory to the newest ``keep``."""

    def __init__(self, directory: str, keep: int):
        self.directory = directory
        self.keep = max(1, int(keep))

    def __call__(self, environ) -> str:
        elapsed_ms = int(environ.get("werkzeug.profiler", {}).get("elapsed", 0))
        path = environ.get("PATH_INFO", "").strip("/").replace("/", ".") or "root"
        path = re.sub(r"[^A-Za-z0-9_.-]", "_", path)[:80]
        self.prune(self.keep - 1)
        return f"{environ['REQUEST_METHOD']}.{path}.{elapsed_ms}ms.{time.time_ns()}.{os.getpid()}.prof"

    def prune(self, keep: int) -> None:
        for stale in list_profiles(self.directory)[keep:]:
            try:
                os.unlink(stale.path)
            except FileNotFoundError:  # another worker pruned it
                pass


def list_profiles(directory: str) -> list[os.DirEntry]:
    """``.prof`` files of ``directory``, newest first."""
    try:
        entries = [e for e in os.scandir(directory) if e.name.endswith(".prof") and e.is_file()]
    except FileNotFoundError:
        return []
    return sorted(entries, key=lambda e: _sort_key(e), reverse=True)


def _sort_key(entry: os.DirEntry) -> int:
    match = NAME.match(entry.name)
    return int(match["ns"]) if match else entry.stat().st_mtime_ns


def init_app(app) -> None:
    directory = profile_dir(app)
    # 0700: the .prof files show the app's code and timings (a WSGI_PROFILER_DIR given is only created so)
    private_dir(directory, tighten=not app.config.get("WSGI_PROFILER_DIR"))
    restrictions = tuple(app.config.get("PERF_WSGI_PROFILER_RESTRICTIONS") or ())
    app.wsgi_app = ProfilerMiddleware(
        app.wsgi_app,
        stream=sys.stdout if restrictions else None,
        restrictions=restrictions,
        profile_dir=directory,
        filename_format=ProfileFiles(directory, app.config["PERF_WSGI_PROFILER_KEEP"]),
    )
    app.extensions["flask_perf"].tools["ProfilerMiddleware (.prof files)"] = None
