"""Redaction of credentials before anything reaches a monitoring store or page.

Sensitive header names (``Authorization``, ``Cookie``, ``Set-Cookie`` and others,
extended by PERF_SENSITIVE_HEADERS) and field names (``password``, ``token`` ...,
extended by PERF_SENSITIVE_FIELDS) keep their key; the value becomes ``[redacted]``.
"""
import functools
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[redacted]"
SENSITIVE_HEADERS = ("authorization", "cookie", "set-cookie", "proxy-authorization",
                     "x-api-key", "x-auth-token", "x-csrf-token")
SENSITIVE_FIELDS = ("password", "passwd", "secret", "token", "api_key", "apikey", "csrf")
# WSGI environ keys kept in the dashboard's outlier records (the rest are object reprs).
ENVIRON_KEYS = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE",
                "CONTENT_LENGTH", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
                "REMOTE_ADDR", "REMOTE_PORT", "wsgi.url_scheme")


def sensitive_names(config) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(header words, field words) from the defaults plus the app's config."""
    headers = SENSITIVE_HEADERS + tuple(h.lower() for h in config.get("PERF_SENSITIVE_HEADERS") or ())
    fields = SENSITIVE_FIELDS + tuple(f.lower() for f in config.get("PERF_SENSITIVE_FIELDS") or ())
    return headers, fields


@functools.lru_cache(maxsize=4096)
def _is_sensitive(name: str, words: tuple[str, ...]) -> bool:
    name = name.lower().replace("_", "-")
    return any(word.replace("_", "-") in name for word in words)


def redact_items(items, words) -> dict:
    return {k: (REDACTED if _is_sensitive(k, words) else v) for k, v in items}


def redact_query(query: str, fields) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, REDACTED if _is_sensitive(k, fields) else v) for k, v in pairs])


def redact_url(url: str, fields) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=redact_query(parts.query, fields)))


def redact_environ(environ, headers, fields) -> dict:
    """The CGI and HTTP_* keys of a WSGI environ, credentials redacted."""
    kept = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            kept[key] = REDACTED if _is_sensitive(key[5:], headers) else value
        elif key in ENVIRON_KEYS:
            kept[key] = redact_query(value, fields) if key == "QUERY_STRING" else value
    return kept
