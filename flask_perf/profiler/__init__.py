"""flask-profiler at /flask-profile: request history with arguments and timings.

Reads PERF_PROFILER_ENABLED, PERF_PROFILER_DATABASE_URL (default: profiler.db in
the monitoring dir), PERF_SENSITIVE_HEADERS / PERF_SENSITIVE_FIELDS and the
shared monitor credentials.

Works around, in flask-profiler 1.8.1:
- ``Profiler(app)`` calls the removed ``before_first_request``: we call the
  module's ``init_app`` after the routes are registered;
- unsafe storages: ``ProfilerStore`` (flask_perf/profiler_store.py);
- plain-text basic auth compared with ``==``: our hashed login instead, rate limited
  with /dashboard's login (flask_perf/logins.py), checked once per session instead of
  running scrypt on every API call (flask_perf/sessions.py);
- every header (``Authorization``, ``Cookie``) and form field stored verbatim, and a
  non-UTF-8 body turning the user's request into a 500: our request wrapper
  (capture.py) redacts and decodes leniently, in the store's writer thread;
- ``GET db/deleteDatabase`` wiping everything: disabled (prune from the CLI);
- headers, fields and bodies stored at any size: capped (flask_perf/limits.py), and
  its main.js putting them into HTML unescaped (stored XSS): escaped (assets.py);
- ``limit=-1`` returning every row: at most PERF_PROFILER_MAX_ROWS (store.py);
- a GitHub "star" iframe on its page: removed, the page makes no outside request.
Every attribute and view of flask-profiler replaced for these is a row of patches.py,
checked against the installed release at start.
"""
import pathlib
import re

import flask_profiler
from flask import Response, current_app, jsonify
from flask_profiler import flask_profiler as fp

from flask_perf.profiler import capture
from flask_perf.profiler.store import BadCriteria, MeasurementNotFound
from flask_perf import logins, origin, sessions
from flask_perf.logins import check_login
from flask_perf.patching import apply as apply_patches
from flask_perf.stores.engines import health_dir, store_url
from flask_perf.config import ConfigError

URL_PREFIX = "/flask-profile"
STAR_IFRAME = re.compile(r"\s*<iframe[^>]*ghbtns\.com[^>]*>\s*</iframe>")


def _verify_password(username, password):
    """Basic auth: a session that already proved this header skips scrypt (sessions.py);
    otherwise the password counts against the login limit shared with /dashboard (429)."""
    if sessions.basic_auth_remembered():
        return True
    if not username and not password:
        return False  # no credentials sent (the browser asks for them): nothing was guessed
    if not check_login(username, password):
        return False
    sessions.remember_basic_auth()
    return True


def _index():
    return Response(current_app.extensions["flask_perf"].profiler_page, mimetype="text/html")


def _delete_disabled():
    return jsonify(status=False, message="Deleting from the page is disabled; "
                   "run `flask --app wsgi monitoring prune` instead."), 403


def _page_without_iframe() -> str:
    page = (pathlib.Path(fp.__file__).parent / "static" / "dist" / "index.html").read_text()
    cleaned, count = STAR_IFRAME.subn("", page)
    if count != 1:
        raise ConfigError("flask-profiler's index.html changed: update STAR_IFRAME")
    return cleaned


def init_app(app) -> None:
    from flask_perf.profiler import patches  # its rows name this module's replacements

    app.extensions["flask_perf"].credentials  # fail at start, not at first login, when no password is configured
    logins.init_app(app)  # failed logins counted with /dashboard's
    sessions.init_app(app)
    app.config["flask_profiler"] = {
        "enabled": True,
        "storage": {"engine": "flask_perf.profiler.store.ProfilerStore",
                    "db_url": store_url(app, "PERF_PROFILER_DATABASE_URL", "profiler.db"),
                    "app_version": app.config["PERF_VERSION"], "health_dir": health_dir(app),
                    "max_rows": app.config["PERF_PROFILER_MAX_ROWS"],
                    "backfill_chunk": app.config["PERF_ROLLUP_BACKFILL_CHUNK"],
                    "backfill_pause_s": app.config["PERF_ROLLUP_BACKFILL_PAUSE_S"]},
        "basicAuth": {"enabled": True},  # checked by _verify_password, not by flask-profiler
        "ignore": ["^/static/", "^/dashboard", "^/_debug_toolbar", "^/_flask_perf/", "^" + URL_PREFIX],
        "endpointRoot": URL_PREFIX.strip("/"),
    }
    apply_patches(patches.MODULES, app)
    capture._ignored.cache_clear()
    flask_profiler.init_app(app)
    state = app.extensions["flask_perf"]
    state.profiler_store = fp.collection
    state.writers["flask_profiler"] = fp.collection.writer
    state.backfills["flask_profiler"] = fp.collection.backfill  # an older store's rollups
    fp.collection.writer.when_started(fp.collection.backfill.ensure_started)  # not per request
    # One store per app, our index and main.js (stored values escaped: stored XSS), no deleteDatabase.
    apply_patches(patches.AFTER_INIT, app)
    origin.protect(app, "flask-profiler", require_header=True)  # its session marker is a cookie
    app.extensions["flask_perf"].profiler_page = _page_without_iframe()
    app.register_error_handler(BadCriteria, lambda e: (jsonify(error="bad_request", message=str(e)), 400))
    app.register_error_handler(MeasurementNotFound, lambda e: (jsonify(error="not_found", message=str(e)), 404))
    app.extensions["flask_perf"].route_hooks.append(lambda name: _wrap_late_endpoint(app, name))
    app.extensions["flask_perf"].tools["flask-profiler"] = URL_PREFIX + "/"


def _wrap_late_endpoint(app, name: str) -> None:
    """A view registered after init_app is wrapped as ``flask_profiler.init_app`` wraps the others."""
    app.view_functions[name] = capture.wrap_endpoint(app.view_functions[name])
