"""flask-profiler's record of one request, built in the store's writer thread.

capture.py's wrapper keeps, per request, a ``Captured``: the copied WSGI environ, the
rule, the view's arguments, two timestamps (and a body, read on the request thread).
``Captured.measurement()`` (store.py's ``prepare``) makes the record the stock wrapper
made inline: werkzeug's ``args`` of the query string, its ``EnvironHeaders`` of the
header keys and ``base_url``, redacted and capped (redaction.py, limits.py) by the app's
``Policy``, and serialised once. A query string and a set of headers seen before are
redacted and capped once (LRU caches, shared results nothing changes; nothing over
4,096 characters is kept): building each record from scratch cost ~30 µs, half the
flask-profiler writer's CPU per request (tests/test_profiler_capture.py checks that
the records are the same).
"""
import functools
import json
from urllib.parse import parse_qsl

from werkzeug.datastructures import EnvironHeaders
from werkzeug.wrappers import Request as EnvironView

from flask_perf.limits import Caps
from flask_perf.redaction import redact_items, sensitive_names


class Policy:
    """What the app's config says to redact and cap (read at its first profiled request)."""

    def __init__(self, config):
        self.headers, self.fields = sensitive_names(config)
        self.caps = Caps.of(config)  # every value stored is attacker text of any size
        self.version = config["PERF_VERSION"]


class Captured:
    """One request as its wrapper saw it; ``measurement()`` is flask-profiler's record."""

    __slots__ = ("policy", "name", "args", "kwargs", "started", "ended", "environ", "endpoint", "body", "form")

    def __init__(self, policy, name, args, kwargs, started, ended, environ, endpoint, body, form):
        self.policy, self.name, self.args, self.kwargs = policy, name, args, kwargs
        self.started, self.ended, self.environ, self.endpoint = started, ended, environ, endpoint
        self.body, self.form = body, form

    def measurement(self) -> dict:
        """flask-profiler's record, with ``context_json``: its context serialised once (the
        size check of ``Caps.record`` and the stored column are the same JSON)."""
        fields, caps, environ = self.policy.fields, self.policy.caps, self.environ
        context = {
            "url": caps.text(_base_url(*(environ.get(key) for key in _URL_KEYS))),
            "args": _query_args(self.policy, environ.get("QUERY_STRING", "")),
            "form": self.form or {},
            "body": self.body or "",
            "headers": _headers(self.policy, tuple(item for item in environ.items()
                                                   if item[0][:5] == "HTTP_" or item[0] in _CONTENT)),
            "func": self.endpoint,
            "ip": environ.get("REMOTE_ADDR"),  # werkzeug's remote_addr
            "app_version": self.policy.version,
        }
        context_json = _JSON.encode(context)
        if len(context_json) > caps.record_chars:
            context = caps.record(context, ("headers", "args", "form", "body"))
            context_json = _JSON.encode(context)
        return {"name": self.name, "args": caps.tree(list(self.args)) if self.args else [],
                "kwargs": caps.tree(redact_items(self.kwargs.items(), fields)) if self.kwargs else {},
                "method": environ.get("REQUEST_METHOD", "GET").upper(),  # werkzeug's method
                "startedAt": self.started, "endedAt": self.ended,
                "elapsed": round(self.ended - self.started, 6), "context": context,
                "context_json": context_json}


_JSON = json.JSONEncoder(default=str)  # json.dumps(..., default=str) builds one per call
_CACHED_CHARS = 4096  # longer query strings and header sets are not kept in the caches below
_CONTENT = ("CONTENT_TYPE", "CONTENT_LENGTH")  # with the HTTP_* keys: what werkzeug's EnvironHeaders reads


def _query_args(policy: Policy, query_string: str) -> dict:
    """werkzeug's ``args`` of ``query_string``, redacted and capped; the same query string
    is worked out once (the result is shared by the records: nothing changes it)."""
    if len(query_string) > _CACHED_CHARS:
        return _query_args_of(policy, query_string)
    return _cached_query_args(policy, query_string)


def _query_args_of(policy: Policy, query_string: str) -> dict:
    first = {}  # werkzeug's args.items(): each name once, with its first value
    for name, value in parse_qsl(query_string.encode("latin1").decode(), keep_blank_values=True,
                                 errors="werkzeug.url_quote"):  # as werkzeug's Request.args parses
        first.setdefault(name, value)
    return policy.caps.mapping(redact_items(first.items(), policy.fields).items())


def _headers(policy: Policy, items: tuple) -> dict:
    """The request's headers (its environ's header ``items``), redacted and capped; once per
    distinct set of headers."""
    if sum(len(key) + len(str(value)) for key, value in items) > _CACHED_CHARS:
        return _headers_of(policy, items)
    try:
        return _cached_headers(policy, items)
    except TypeError:  # a value some middleware put there that cannot be a key
        return _headers_of(policy, items)


def _headers_of(policy: Policy, items: tuple) -> dict:
    return policy.caps.mapping(redact_items(EnvironHeaders(dict(items)).items(), policy.headers).items())


_cached_query_args = functools.lru_cache(maxsize=256)(_query_args_of)  # at most ~2 MB
_cached_headers = functools.lru_cache(maxsize=64)(_headers_of)


_URL_KEYS = ("wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME", "PATH_INFO")


@functools.lru_cache(maxsize=1024)
def _base_url(*values) -> str:
    """werkzeug's ``base_url`` of a request with these ``_URL_KEYS`` (IRI decoding is the
    costly part of a record; an app's requests share few paths)."""
    return EnvironView({key: value for key, value in zip(_URL_KEYS, values) if value is not None},
                       populate_request=False).base_url
