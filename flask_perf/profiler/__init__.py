"""flask-profiler at /flask-profile: request history with arguments and timings.

Reads PERF_PROFILER_ENABLED, PERF_PROFILER_DATABASE_URL (default: profiler.db in
the monitoring dir), PERF_SENSITIVE_HEADERS / PERF_SENSITIVE_FIELDS and the
shared monitor credentials.

Works around, in flask-profiler 1.8.1:
- ``Profiler(app)`` calls the removed ``before_first_request``: we call the
  module's ``init_app`` after the routes are registered;
- unsafe storages: ``ProfilerStore`` (flask_perf/profiler_store.py);
- plain-text basic auth compared with ``==``: our hashed login instead;
- every header (``Authorization``, ``Cookie``) and form field stored verbatim, and a
  non-UTF-8 body turning the user's request into a 500: our request wrapper
  redacts and decodes leniently;
- ``GET db/deleteDatabase`` wiping everything: disabled (prune from the CLI);
- a GitHub "star" iframe on its page: removed, the page makes no outside request.
"""
import functools
import json
import pathlib
import re
import time

import flask_profiler
from flask import Response, current_app, jsonify, request
from flask_profiler import flask_profiler as fp

from flask_perf.profiler.store import BadCriteria, MeasurementNotFound
from flask_perf.redaction import redact_items, sensitive_names
from flask_perf.stores.engines import health_dir, store_url

URL_PREFIX = "/flask-profile"
STAR_IFRAME = re.compile(r"\s*<iframe[^>]*ghbtns\.com[^>]*>\s*</iframe>")
MAX_BODY = 2048


def _wrap_endpoint(view):
    """flask-profiler's wrapHttpEndpoint + measure, with redaction and a lenient body decode.

    Stock, every request built a new wrapper (functools.wraps), matched the ignore
    regexes and formatted two debug messages before the view ran; the ignore list
    is applied here once per rule and the timing is taken inline."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        name = str(request.url_rule)
        if _ignored(name):
            return view(*args, **kwargs)
        config = current_app.config
        headers, fields = sensitive_names(config)
        context = {
            "url": request.base_url,
            "args": redact_items(request.args.items(), fields),
            "form": redact_items(request.form.items(), fields) if request.form else {},
            "body": _body(fields),
            "headers": redact_items(request.headers.items(), headers),
            "func": request.endpoint,
            "ip": request.remote_addr,
            "app_version": config["PERF_VERSION"],
        }
        started = time.time()
        try:
            return view(*args, **kwargs)
        finally:
            ended = time.time()
            fp.collection.insert({"name": name, "args": args, "kwargs": kwargs,
                                  "method": request.method, "startedAt": started,
                                  "endedAt": ended, "elapsed": round(ended - started, 6),
                                  "context": context})
    return wrapper


@functools.lru_cache(maxsize=1024)
def _ignored(rule: str) -> bool:
    return fp.is_ignored(rule, fp.CONF)


def _body(fields) -> str:
    """The body, decoded leniently; form fields and top-level JSON keys redacted."""
    if not request.content_length and "chunked" not in request.headers.get("Transfer-Encoding", ""):
        return ""  # no body (every GET): nothing to read or decode
    if request.form or request.mimetype == "application/x-www-form-urlencoded":
        return ""  # the form's fields are stored, redacted, under "form"
    data = request.get_data(cache=True)
    if request.is_json:
        parsed = request.get_json(silent=True)
        if isinstance(parsed, dict):
            return json.dumps(redact_items(parsed.items(), fields))[:MAX_BODY]
    return data[:MAX_BODY].decode("utf-8", "replace")


def _verify_password(username, password):
    return current_app.extensions["flask_perf"].credentials.check(username, password)


def _index():
    return Response(current_app.extensions["flask_perf"].profiler_page, mimetype="text/html")


def _delete_disabled():
    return jsonify(status=False, message="Deleting from the page is disabled; "
                   "run `flask --app wsgi monitoring prune` instead."), 403


def _page_without_iframe() -> str:
    page = (pathlib.Path(fp.__file__).parent / "static" / "dist" / "index.html").read_text()
    cleaned, count = STAR_IFRAME.subn("", page)
    if count != 1:
        raise RuntimeError("flask-profiler's index.html changed: update STAR_IFRAME")
    return cleaned


def init_app(app) -> None:
    app.extensions["flask_perf"].credentials  # fail at start, not at first login, when no password is configured
    app.config["flask_profiler"] = {
        "enabled": True,
        "storage": {"engine": "flask_perf.profiler.store.ProfilerStore",
                    "db_url": store_url(app, "PERF_PROFILER_DATABASE_URL", "profiler.db"),
                    "app_version": app.config["PERF_VERSION"], "health_dir": health_dir(app)},
        "basicAuth": {"enabled": True},  # checked by _verify_password, not by flask-profiler
        "ignore": ["^/static/", "^/dashboard", "^/_debug_toolbar", "^" + URL_PREFIX],
        "endpointRoot": URL_PREFIX.strip("/"),
    }
    fp.wrapHttpEndpoint = _wrap_endpoint
    _ignored.cache_clear()
    fp.auth.verify_password(_verify_password)
    flask_profiler.init_app(app)
    state = app.extensions["flask_perf"]
    state.profiler_store = fp.collection
    state.writers["flask_profiler"] = fp.collection.writer
    app.extensions["flask_perf"].profiler_page = _page_without_iframe()
    prefix = "flask-profiler."
    app.view_functions[prefix + "index"] = fp.auth.login_required(_index)
    app.view_functions[prefix + "deleteDatabase"] = fp.auth.login_required(_delete_disabled)
    app.register_error_handler(BadCriteria, lambda e: (jsonify(error="bad_request", message=str(e)), 400))
    app.register_error_handler(MeasurementNotFound, lambda e: (jsonify(error="not_found", message=str(e)), 404))
    app.extensions["flask_perf"].tools["flask-profiler"] = URL_PREFIX + "/"
