"""Error responses: JSON for JSON routes and for bad parameters, HTML elsewhere.

Registered on the app (not the blueprint) because 405 is raised while routing,
before any blueprint is known. Errors of other blueprints (the tools' own pages)
keep their default response.
"""
from flask import current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from webapp.school.params import BadParameter
from webapp.school.routes import JSON_PATHS

# Everything under these is JSON too (the grading blueprint's report and job URLs).
JSON_PREFIXES = ("/class_report",)


def _wants_json() -> bool:
    return request.path in JSON_PATHS or request.path.startswith(JSON_PREFIXES)


def bad_parameter(error: BadParameter):
    return jsonify(error="bad_request", parameter=error.parameter, message=error.message), 400


def http_error(error: HTTPException):
    if _wants_json():
        response = jsonify(error=error.name.lower().replace(" ", "_"), message=error.description)
    elif request.blueprint == "school" or request.path in ("/", "/my_class"):
        response = current_app.make_response(render_template("school/error.html", error=error))
    else:
        return error
    response.status_code = error.code
    if getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def init_app(app) -> None:
    app.register_error_handler(BadParameter, bad_parameter)
    app.register_error_handler(HTTPException, http_error)
