"""Same-origin check (CSRF) for the state-changing requests of every tool's blueprint.

Browsers send ``Origin`` with cross-site POST, PUT, PATCH and DELETE requests (and
``Referer`` with most requests). For such a method on a tool's blueprint the Origin,
or when it is absent the Referer, must name the host the request was sent to (or an
origin listed in PERF_TRUSTED_ORIGINS, for a proxy that rewrites Host); ``Origin:
null`` (sandboxed pages, some redirects) never matches. A request carrying neither
header is refused on the cookie-authenticated tools (/dashboard, /flask-profile),
except on views that check their own CSRF token (the login form); the toolbar's
views accept it, since no cookie authorises them (client address and signed links
do). Refusals are 403 with the reason. GET, HEAD and OPTIONS are never checked:
no tool changes anything on them.
"""
from urllib.parse import urlsplit

from flask import abort, current_app, request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def _host(scheme: str, netloc: str) -> str:
    netloc = netloc.lower()
    port = DEFAULT_PORTS.get(scheme)
    return netloc[: -len(port)] if port and netloc.endswith(port) else netloc


def _origin(value: str) -> tuple[str, str] | None:
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.netloc or "@" in parts.netloc:
        return None
    return parts.scheme, _host(parts.scheme, parts.netloc)


def same_origin(value: str) -> bool:
    """``value`` (an Origin or a Referer) names this request's host or a trusted origin."""
    claimed = _origin(value)
    if claimed is None:
        return False
    if claimed[1] == _host(request.scheme, request.host):
        return True
    trusted = (_origin(str(o)) for o in current_app.config.get("PERF_TRUSTED_ORIGINS") or ())
    return claimed in trusted


def problem(require_header: bool) -> str | None:
    """Why this request may not change anything here, or None."""
    if request.method in SAFE_METHODS:
        return None
    claimed = request.headers.get("Origin")
    if claimed is None:
        claimed = request.headers.get("Referer")
    if claimed is None:
        return "this request names no origin (no Origin or Referer header)" if require_header else None
    if same_origin(claimed):
        return None
    return f"cross-origin request refused (from {claimed[:100]!r})"


def protect(app, blueprint_name: str, require_header: bool, own_token: tuple[str, ...] = ()) -> None:
    """Check every request to ``blueprint_name``'s views before they run.

    ``own_token``: endpoints that check a CSRF token themselves (a missing header is fine)."""

    def check_origin():
        required = require_header and request.endpoint not in own_token
        reason = problem(required)
        if reason:
            abort(403, description=reason)

    check_origin._flask_perf_origin = True
    funcs = app.before_request_funcs.setdefault(blueprint_name, [])
    if not any(getattr(f, "_flask_perf_origin", False) for f in funcs):
        funcs.insert(0, check_origin)
