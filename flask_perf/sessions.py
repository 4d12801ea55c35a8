"""Monitoring sessions that end: login generations, the basic-auth marker, cookie flags.

Flask keeps the session in a signed cookie, so FMD's login outlived its logout: a
cookie saved before kept working after it, even after a restart with a new password.
Here a login stores a *generation* in the session: an HMAC (SECRET_KEY) of the
monitor user's password (``credentials.identity``: the same in every worker) and session epoch (kept per user in the auth file,
logins.py, shared by every worker). Logout gives the user a new epoch, a new password
gives a new hash: either way every session issued before carries a stale
generation and ``valid()`` is false for it. Logout ends all of that user's sessions.

/flask-profile's basic auth is a scrypt check (130-190 ms a call). After one success
the session keeps a marker: the generation, an expiry PERF_PROFILER_AUTH_MAX_AGE_S
ahead, and an HMAC of the Authorization header that earned it. Later calls sending
that header with that cookie skip scrypt, until the marker expires or the generation
changes (logout, new password).

Cookie flags (``init_app``): SameSite=Lax unless the app chose a value; Secure when
PERF_COOKIE_SECURE is true or the request came over https.
"""
import hashlib
import hmac
import secrets
import time

from flask import current_app, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface

from flask_perf.logins import auth_store

GENERATION_KEY = "flask_perf_login"
BASIC_KEY = "flask_perf_basic"


def _digest(*parts: str) -> str:
    key = current_app.secret_key
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, "\0".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


def generation() -> str:
    """The current login generation of the monitor user (read once per request)."""
    if "flask_perf_generation" not in g:
        creds = current_app.extensions["flask_perf"].credentials
        epoch = auth_store().epoch(creds.user)
        g.flask_perf_generation = _digest("generation", creds.user, creds.identity, epoch)
    return g.flask_perf_generation


def _same(value, expected: str) -> bool:
    return isinstance(value, str) and hmac.compare_digest(value, expected)


def start() -> None:
    """Call after a successful login: the session belongs to the current generation."""
    session[GENERATION_KEY] = generation()


def valid() -> bool:
    return _same(session.get(GENERATION_KEY), generation())


def end_all() -> None:
    """Logout: a new epoch, so every session of the monitor user issued so far is stale."""
    creds = current_app.extensions["flask_perf"].credentials
    auth_store().set_epoch(creds.user, secrets.token_hex(16))
    g.pop("flask_perf_generation", None)
    session.pop(GENERATION_KEY, None)
    session.pop(BASIC_KEY, None)


def basic_auth_remembered() -> bool:
    """This session already proved the Authorization header it sends (and still may)."""
    marker, header = session.get(BASIC_KEY), request.headers.get("Authorization", "")
    if not header or not isinstance(marker, list) or len(marker) != 3:
        return False
    earned, expires, proof = marker
    if not isinstance(expires, (int, float)) or expires < time.time():
        return False
    return _same(earned, generation()) and _same(proof, _digest("basic", header))


def remember_basic_auth() -> None:
    max_age = float(current_app.config["PERF_PROFILER_AUTH_MAX_AGE_S"])
    if max_age > 0:
        header = request.headers.get("Authorization", "")
        session[BASIC_KEY] = [generation(), time.time() + max_age, _digest("basic", header)]


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's cookie session, with the Secure flag also set for requests over https."""

    def get_cookie_secure(self, app) -> bool:
        return bool(super().get_cookie_secure(app) or app.config.get("PERF_COOKIE_SECURE")
                    or (has_request_context() and request.is_secure))

    def save_session(self, app, session, response) -> None:
        if not session and not session.modified and not session.accessed:
            return  # Flask would set, delete and vary nothing; it computes every cookie flag first
        super().save_session(app, session, response)


def init_app(app) -> None:
    """Cookie flags (once per app; both tools call this)."""
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = _SessionInterface()
    elif app.config.get("PERF_COOKIE_SECURE") and not isinstance(app.session_interface, _SessionInterface):
        app.config["SESSION_COOKIE_SECURE"] = True  # the app's own session interface: static flag
