"""Security headers on the tools' own pages: /dashboard, /flask-profile, /_debug_toolbar, /_flask_perf.

Those pages show attacker text (every header, argument and path a request sent), so
besides escaping it where it is rendered (profiler/assets.py) they get a
Content-Security-Policy that runs no inline script, no ``eval`` and nothing from
another origin, and may not be framed (``frame-ancestors 'none'``, ``X-Frame-Options:
DENY``), plus ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``.
Inline *styles* stay allowed: both tools' pages and AngularJS use them.

Only the tools' responses get these headers; the app's own pages (with the toolbar
injected into them) keep whatever the app sends.
"""
from flask import request

from flask_perf.state import TOOL_BLUEPRINTS

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" would send "Origin: null" on the login POST
}
ALWAYS = ("/_debug_toolbar", "/_flask_perf")  # the toolbar's views and assets, ours


def tool_prefixes(state) -> tuple[str, ...]:
    """URL prefixes of the attached tools' pages (``/dashboard``, ``/flask-profile``)."""
    return ALWAYS + tuple(url.rstrip("/") for url in state.tools.values() if url and url != "/")


def is_tool_request(slashed: tuple[str, ...]) -> bool:
    """The path is one of the prefixes or under one (``slashed``: each prefix + "/"), or a
    tool's blueprint answers. Runs on every response of the app: one ``startswith``."""
    current = request._get_current_object()
    if (current.path + "/").startswith(slashed):
        return True
    return (current.blueprint or "").partition(".")[0] in TOOL_BLUEPRINTS


def init_app(app, state) -> None:
    """After the tools are attached: every response of theirs gets ``HEADERS``."""
    prefixes = tuple(p + "/" for p in tool_prefixes(state))

    def secure_tool_page(response):
        if is_tool_request(prefixes):
            response.headers.update(HEADERS)
        return response

    app.after_request(secure_tool_page)
