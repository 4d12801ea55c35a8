"""The /dashboard login and logout, replacing Flask-MonitoringDashboard's views.

FMD's login form has no CSRF token and no rate limit, and its user lookup creates
``admin``/``admin`` whenever its user table is empty. Ours checks the shared
monitor credentials through ``logins.check_login`` (constant-time user name, hashed
password, at most PERF_DASHBOARD_LOGIN_LIMIT (10) passwords per client within
PERF_DASHBOARD_LOGIN_WINDOW_S (300 s), counted with /flask-profile's basic auth and
across workers, then 429), and requires a CSRF token bound to the session. On
success it sets FMD's session keys, so its pages work unchanged, plus the login
generation (sessions.py). FMD's logout only removed keys from a cookie that a saved
copy of still opened the dashboard: ours ends every session of the user, and a
``before_request`` on the blueprint drops a session whose generation is stale
(after a logout, or a restart with a new password).
"""
import hmac
import secrets

from flask import abort, redirect, render_template, request, session, url_for
from markupsafe import Markup

from flask_perf import logins, origin, sessions
from flask_perf.logins import check_login
from flask_perf.config import ConfigError

CSRF_KEY = "dashboard_csrf"


def _keys() -> tuple[str, ...]:
    import flask_monitoringdashboard as fmd

    link = fmd.config.link
    return (f"{link}_logged_in", f"{link}_admin", f"{link}_user_id")


def csrf_field() -> Markup:
    token = session.setdefault(CSRF_KEY, secrets.token_urlsafe(32))
    return Markup(f'<input type="hidden" name="csrf_token" value="{token}">')


def login_view():
    import flask_monitoringdashboard as fmd
    from flask_monitoringdashboard.core.auth import on_login
    from flask_monitoringdashboard.database import User, session_scope

    if session.get(fmd.config.link + "_logged_in"):
        return redirect(url_for(fmd.config.blueprint_name + ".index"))
    error = None
    if request.method == "POST":
        expected = session.get(CSRF_KEY, "")
        if not expected or not hmac.compare_digest(expected, request.form.get("csrf_token", "")):
            abort(400, description="The login form expired or did not come from this site; reload it.")
        name, password = request.form.get("name", ""), request.form.get("password", "")
        if check_login(name, password):  # 429 once the client is over the limit
            with session_scope() as db_session:
                user = db_session.query(User).filter(User.username == name).one_or_none()
                if user is not None:
                    session.pop(CSRF_KEY, None)
                    on_login(user)
                    sessions.start()
                    return redirect(url_for(fmd.config.blueprint_name + ".index"))
        error = "Wrong user name or password."
    return render_template("fmd_login.html", blueprint_name=fmd.config.blueprint_name,
                           show_login_banner=fmd.config.show_login_banner,
                           show_login_footer=fmd.config.show_login_footer, login_error=error,
                           csrf_field=csrf_field())


def logout_view():
    """End every session of the monitor user, then show the login form. Only a live session
    can, from the dashboard's own pages: a link on another site (a foreign Referer, or
    Sec-Fetch-Site: cross-site) just leads to the dashboard."""
    import flask_monitoringdashboard as fmd

    referer = request.headers.get("Referer")
    if request.headers.get("Sec-Fetch-Site") == "cross-site" or (referer and not origin.same_origin(referer)):
        return redirect(url_for(fmd.config.blueprint_name + ".index"))
    if session.get(_keys()[0]) and sessions.valid():
        sessions.end_all()
    for key in _keys():
        session.pop(key, None)
    return redirect(url_for(fmd.config.blueprint_name + ".login"))


def drop_stale_session() -> None:
    """before_request of the blueprint: a login of an older generation is no login."""
    if session.get(_keys()[0]) and not sessions.valid():
        for key in (*_keys(), sessions.GENERATION_KEY, sessions.BASIC_KEY):
            session.pop(key, None)


def login_template(source: str) -> str:
    """FMD's login template with the CSRF field and an error line inserted."""
    form = '<form class="form" method="POST" action="login">'
    if form not in source:
        raise ConfigError("fmd_login.html changed: update login_template")
    extra = ('{{ csrf_field }}{% if login_error %}<div class="alert alert-danger" role="alert">'
             "{{ login_error }}</div>{% endif %}")
    return source.replace(form, form + extra)


def init_app(app, blueprint_name: str) -> None:
    """The shared login state and the session check; the views are rows of patches.py."""
    logins.init_app(app)
    sessions.init_app(app)
    funcs = app.before_request_funcs.setdefault(blueprint_name, [])
    if drop_stale_session not in funcs:
        funcs.append(drop_stale_session)
