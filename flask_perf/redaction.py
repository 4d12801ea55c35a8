"""Redaction of credentials before anything reaches a monitoring store or page.

A name is sensitive when it contains one of ``SENSITIVE_WORDS`` (``pass``, ``pwd``,
``secret``, ``token``, ``key``, ``auth``, ``session``, ``cookie``, ``csrf`` ...),
compared case-insensitively with ``_`` read as ``-``; PERF_SENSITIVE_HEADERS and
PERF_SENSITIVE_FIELDS add words. Sensitive names keep their key and the value becomes
``[redacted]`` — in headers, query and form fields, and at any depth of a JSON body
(dicts in lists in dicts ...). URLs found in values (``Referer``, ``next=``) get their
query redacted the same way, and ``name=value`` / ``"name": "value"`` pairs of a raw
body are redacted by ``redact_text``. Deeper than ``MAX_DEPTH`` nothing is kept.
"""
import functools
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[redacted]"
TOO_DEEP = "[redacted: nested too deep]"
MAX_DEPTH = 32
SENSITIVE_WORDS = ("pass", "pwd", "secret", "token", "key", "auth", "session", "cookie", "csrf",
                   "xsrf", "credential", "signature", "private", "bearer", "jwt")
# WSGI environ keys kept in the dashboard's outlier records (the rest are object reprs).
ENVIRON_KEYS = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE",
                "CONTENT_LENGTH", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
                "REMOTE_ADDR", "REMOTE_PORT", "wsgi.url_scheme")
_URL_WITH_QUERY = re.compile(r"^[a-z][a-z0-9+.-]*://[^?#\s]*\?", re.IGNORECASE)


def _normal(word: str) -> str:
    return str(word).lower().replace("_", "-")


def sensitive_names(config) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(header words, field words): the default words plus the app's config."""
    headers = SENSITIVE_WORDS + tuple(_normal(h) for h in config.get("PERF_SENSITIVE_HEADERS") or ())
    fields = SENSITIVE_WORDS + tuple(_normal(f) for f in config.get("PERF_SENSITIVE_FIELDS") or ())
    return headers, fields


def _contains_word(name: str, words) -> bool:
    name = _normal(name)
    return any(_normal(word) in name for word in words)


_cached_contains_word = functools.lru_cache(maxsize=4096)(_contains_word)


def is_sensitive(name, words) -> bool:
    """True when ``name`` (a header, field or JSON key) contains one of ``words``."""
    name = str(name)
    if len(name) > 128:  # attacker-sized names stay out of the cache
        return _contains_word(name, words)
    return _cached_contains_word(name, tuple(words))


def redact_value(value, words, depth: int = 0):
    """``value`` with every sensitive key's value redacted, at any depth."""
    if depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {k: (REDACTED if is_sensitive(k, words) else redact_value(v, words, depth + 1))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v, words, depth + 1) for v in value]
    if isinstance(value, str) and _URL_WITH_QUERY.match(value):
        return redact_url(value, words)
    return value


def redact_items(items, words) -> dict:
    """A dict of ``items`` (pairs) with sensitive values redacted, nested ones too."""
    return {k: (REDACTED if is_sensitive(k, words) else redact_value(v, words, 1)) for k, v in items}


def redact_query(query: str, fields) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, REDACTED if is_sensitive(k, fields) else v) for k, v in pairs])


def redact_url(url: str, fields) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 netloc: keep nothing of it
        return REDACTED
    return urlunsplit(parts._replace(query=redact_query(parts.query, fields)))


# A pair starts only where a name starts, so a long run of word characters is read once
# (a pattern that may start anywhere inside it backtracks over every start: quadratic).
_NAME = re.compile(r"""(?<![\w.-])([\w.-]+)["']?\s*[:=]\s*["']?""")
_VALUE = re.compile(r"""[^"'&\s,;}]+""")


def redact_text(text: str, words) -> str:
    """Raw text (a body that is neither a form nor JSON, an exception message):
    ``name=value`` and ``"name": "value"`` pairs with a sensitive name lose their value.
    Linear in the length of ``text``."""
    kept, done = [], 0
    for pair in _NAME.finditer(text):
        if pair.start() < done or not is_sensitive(pair.group(1), words):
            continue
        value = _VALUE.match(text, pair.end())
        if value is not None:
            kept += [text[done:pair.end()], REDACTED]
            done = value.end()
    return "".join(kept) + text[done:]


def redact_environ(environ, headers, fields) -> dict:
    """The CGI and HTTP_* keys of a WSGI environ, credentials redacted."""
    kept = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            kept[key] = REDACTED if is_sensitive(key[5:], headers) else redact_value(value, fields, 1)
        elif key in ENVIRON_KEYS:
            kept[key] = redact_query(value, fields) if key == "QUERY_STRING" else value
    return kept
