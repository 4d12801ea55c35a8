"""What a state-changing request to Flask-MonitoringDashboard must carry.

FMD 5.1 has no CSRF protection: a page on any site could make a logged-in admin's
browser post to ``set_rule`` or ``user/create|edit|delete``, and its JSON API reads
``request.data`` whatever the content type, so a cross-site ``text/plain`` post
reached ``multi_version``, whose name lookup creates an Endpoint row for any name
(1,233 junk rows slowed the overview from 90 ms to 2.2 s). Here, on every request to
FMD's blueprint:
- the same-origin check of flask_perf/origin.py (a request with neither Origin nor
  Referer is refused, except the login form, which has its own token);
- every POST but the form posts (login, set_rule, user/*) must be
  ``Content-Type: application/json`` with a JSON object body (415, 400): a
  cross-site page cannot send that type without a CORS preflight, never granted;
- endpoint names in bodies (``multi_version``, ``api_performance``) must be views
  of the app (400 otherwise), and such lists are capped at MAX_NAMES entries.
``set_rule`` is replaced in levels.py, which checks its name and level.
"""
from flask import abort, current_app, request

from flask_perf import origin
from flask_perf.state import is_tool_endpoint

FORM_POSTS = frozenset({"login", "set_rule", "user_create", "user_edit", "user_delete"})
NAMED_ENDPOINTS = frozenset({"multi_version", "api_performance"})
MAX_NAMES = 200


def known_endpoint(name) -> bool:
    """``name`` is one of the app's own views (what FMD may keep an Endpoint row for)."""
    return isinstance(name, str) and name in current_app.view_functions and not is_tool_endpoint(name)


def _stored_endpoints(names) -> set:
    """Those of ``names`` that already have an Endpoint row (a route removed since: the
    page still lists it until retention lets it go; asking about it creates nothing)."""
    from flask_monitoringdashboard.database import DBSession, Endpoint

    wanted = [name for name in names if isinstance(name, str)]
    if not wanted:
        return set()
    with DBSession() as session:
        return set(session.scalars(Endpoint.__table__.select().with_only_columns(Endpoint.name)
                                   .where(Endpoint.name.in_(wanted))))


def _check_body(view: str) -> None:
    if request.mimetype != "application/json":
        abort(415, description="send this request as Content-Type: application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object")
    data = body.get("data")
    if view in NAMED_ENDPOINTS:
        names = data.get("endpoints") if isinstance(data, dict) else None
        if not isinstance(names, list) or len(names) > MAX_NAMES:
            abort(400, description=f"data.endpoints must be a list of at most {MAX_NAMES} endpoint names")
        unknown = [name for name in names if not known_endpoint(name)]
        if unknown:
            stored = _stored_endpoints(unknown[:MAX_NAMES])
            unknown = [name for name in unknown if name not in stored]
        if unknown:
            abort(400, description=f"unknown endpoint: {str(unknown[0])[:100]!r}")
        versions = data.get("versions", [])
        if not isinstance(versions, list) or len(versions) > MAX_NAMES:
            abort(400, description=f"data.versions must be a list of at most {MAX_NAMES} versions")


def init_app(app, blueprint_name: str) -> None:
    origin.protect(app, blueprint_name, require_header=True, own_token=(f"{blueprint_name}.login",))

    def check_json_posts():
        view = (request.endpoint or "").partition(".")[2]
        if request.method == "POST" and view not in FORM_POSTS:
            _check_body(view)

    check_json_posts._flask_perf_json = True
    funcs = app.before_request_funcs.setdefault(blueprint_name, [])
    if not any(getattr(f, "_flask_perf_json", False) for f in funcs):
        funcs.append(check_json_posts)
