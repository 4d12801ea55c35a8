"""The /dashboard login, replacing Flask-MonitoringDashboard's own view.

FMD's login form has no CSRF token and no rate limit, and its user lookup creates
``admin``/``admin`` whenever its user table is empty. Ours checks the shared
monitor credentials (constant-time user name, hashed password), requires a CSRF
token bound to the session, and refuses an IP address after PERF_DASHBOARD_LOGIN_LIMIT
failures (default 10) within PERF_DASHBOARD_LOGIN_WINDOW_S seconds (default 300) with 429.
On success it sets FMD's session keys, so its pages work unchanged.
"""
import hmac
import secrets
import threading
import time
from collections import defaultdict, deque

from flask import abort, current_app, redirect, render_template, request, session, url_for
from markupsafe import Markup


CSRF_KEY = "dashboard_csrf"


class FailedLogins:
    """Failed attempts per client address within a sliding window (per process)."""

    def __init__(self):
        self._attempts: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, address: str, limit: int, window: float) -> bool:
        with self._lock:
            attempts = self._attempts[address]
            while attempts and attempts[0] < time.monotonic() - window:
                attempts.popleft()
            return len(attempts) >= limit

    def add(self, address: str) -> None:
        with self._lock:
            self._attempts[address].append(time.monotonic())


def csrf_field() -> Markup:
    token = session.setdefault(CSRF_KEY, secrets.token_urlsafe(32))
    return Markup(f'<input type="hidden" name="csrf_token" value="{token}">')


def login_view():
    import flask_monitoringdashboard as fmd
    from flask_monitoringdashboard.core.auth import on_login
    from flask_monitoringdashboard.database import User, session_scope

    config = current_app.config
    failures = current_app.extensions["flask_perf"].login_failures
    address = request.remote_addr or "?"
    if session.get(fmd.config.link + "_logged_in"):
        return redirect(url_for(fmd.config.blueprint_name + ".index"))
    error = None
    if request.method == "POST":
        if failures.blocked(address, config["PERF_DASHBOARD_LOGIN_LIMIT"], config["PERF_DASHBOARD_LOGIN_WINDOW_S"]):
            abort(429, description="Too many failed logins; try again later.")
        expected = session.get(CSRF_KEY, "")
        if not expected or not hmac.compare_digest(expected, request.form.get("csrf_token", "")):
            abort(400, description="The login form expired or did not come from this site; reload it.")
        name, password = request.form.get("name", ""), request.form.get("password", "")
        if current_app.extensions["flask_perf"].credentials.check(name, password):
            with session_scope() as db_session:
                user = db_session.query(User).filter(User.username == name).one_or_none()
                if user is not None:
                    session.pop(CSRF_KEY, None)
                    on_login(user)
                    return redirect(url_for(fmd.config.blueprint_name + ".index"))
        failures.add(address)
        error = "Wrong user name or password."
    return render_template("fmd_login.html", blueprint_name=fmd.config.blueprint_name,
                           show_login_banner=fmd.config.show_login_banner,
                           show_login_footer=fmd.config.show_login_footer, login_error=error,
                           csrf_field=csrf_field())


def login_template(source: str) -> str:
    """FMD's login template with the CSRF field and an error line inserted."""
    form = '<form class="form" method="POST" action="login">'
    if form not in source:
        raise RuntimeError("fmd_login.html changed: update login_template")
    extra = ('{{ csrf_field }}{% if login_error %}<div class="alert alert-danger" role="alert">'
             "{{ login_error }}</div>{% endif %}")
    return source.replace(form, form + extra)


def init_app(app, blueprint_name: str) -> None:
    app.config.setdefault("PERF_DASHBOARD_LOGIN_LIMIT", 10)
    app.config.setdefault("PERF_DASHBOARD_LOGIN_WINDOW_S", 300)
    app.extensions["flask_perf"].login_failures = FailedLogins()
    app.view_functions[f"{blueprint_name}.login"] = login_view
