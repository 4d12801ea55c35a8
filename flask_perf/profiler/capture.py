"""flask-profiler's request wrapper: raw values on the request thread, the record in the writer's.

Stock ``wrapHttpEndpoint`` built a new wrapper per request (``functools.wraps``),
matched the ignore regexes and formatted two debug messages; ours (a row of
patches.py) applies the ignore list once per rule and times the view inline. What it
stores is redacted and capped (redaction.py, limits.py) -- headers, query and form
fields, the body, the view's arguments -- and serialised: ~40 µs of a request when it
was done inline. Now the request thread keeps only what it alone can read:

- a copy of the WSGI environ (headers, query string, host, remote address: strings the
  server already parsed; without ``werkzeug.request`` and the input stream, which hold
  the body), the matched rule, the view's arguments, two ``time.time()``; what to redact
  and cap (``Policy``) is read from the config once, at the first request;
- only a request that sent a body: the body and the form, read before the view (the view
  may consume the stream), redacted and capped there as before;

and ``Captured.measurement()`` (record.py), called by the store's BatchWriter thread
(store.py), builds the same record from them: werkzeug's ``Request`` over the copied
environ gives the same ``args``, ``headers`` and ``base_url`` the view saw.
"""
import functools
import json
import time

from flask import current_app, request
from flask_profiler import flask_profiler as fp

from flask_perf.limits import Caps, truncated
from flask_perf.profiler.record import Captured, Policy
from flask_perf.redaction import redact_items, redact_text, redact_value

_HEAVY = ("werkzeug.request", "wsgi.input")  # the parsed request and the body's stream


def wrap_endpoint(view):
    """flask-profiler's wrapHttpEndpoint + measure: the timing and a ``Captured`` on the
    app's store writer (store and policy, found at the first request, are the app's own)."""
    store = policy = None

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        nonlocal store, policy
        rule = request.url_rule
        name = str(rule)
        if _ignored(name):
            return view(*args, **kwargs)
        if store is None:
            store, policy = current_app.extensions["flask_perf"].profiler_store, Policy(current_app.config)
        environ = request.environ
        body = form = None
        if environ.get("CONTENT_LENGTH") or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", ""):
            body, form = _body_and_form(policy)
        copied = environ.copy()  # as the view gets it
        for key in _HEAVY:
            copied.pop(key, None)
        started = time.time()
        try:
            return view(*args, **kwargs)
        finally:
            ended = time.time()
            store.writer.put(Captured(policy, name, args, kwargs, started, ended, copied,
                                      rule.endpoint if rule is not None else None, body, form))
    return wrapper


@functools.lru_cache(maxsize=1024)
def _ignored(rule: str) -> bool:
    return fp.is_ignored(rule, fp.CONF)


def _body_and_form(policy: Policy) -> tuple[str, dict]:
    """The body and the form of a request that sent one, redacted and capped."""
    fields, caps = policy.fields, policy.caps
    form = caps.mapping(redact_items(request.form.items(), fields).items()) if request.form else {}
    return _body(fields, caps), form


def _body(fields, caps: Caps) -> str:
    """The body, decoded leniently, redacted at any depth, within PERF_MAX_BODY_CHARS."""
    if not request.content_length and "chunked" not in request.headers.get("Transfer-Encoding", ""):
        return ""  # no body: nothing to read or decode
    if request.form or request.mimetype == "application/x-www-form-urlencoded":
        return ""  # the form's fields are stored, redacted, under "form"
    data = request.get_data(cache=True)
    if request.is_json:
        try:
            parsed = request.get_json(silent=True)
        except RecursionError:  # nested deeper than json can parse: kept as text
            parsed = None
        if parsed is not None:
            return truncated(json.dumps(caps.tree(redact_value(parsed, fields))), caps.body_chars)
    text = redact_text(data[:caps.body_chars].decode("utf-8", "replace"), fields)
    return text if len(data) <= caps.body_chars else f"{text}…[truncated {len(data) - caps.body_chars} bytes]"
