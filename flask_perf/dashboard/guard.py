"""Input checks in front of Flask-MonitoringDashboard's JSON API.

FMD 5.1 answers 500 (or runs for minutes) on bad path values: ids past 2**63-1
overflow SQLite, ``int()`` and ``strptime`` run on raw text, an end date before
the start date breaks numpy, one query per day of an unbounded range ties up a
worker, and its ``session_scope`` swallows errors so views return None. Here every
``/dashboard/api/...`` view gets its path values checked first (400 with the reason)
and a None result becomes a 404.
"""
import functools
from datetime import datetime

from flask import jsonify

MAX_ID = 2**63 - 1
MAX_DAYS = 366
MAX_PAGE = 1000


def _problem(args: dict) -> str | None:
    for key, value in args.items():
        if isinstance(value, int) and not 0 <= value <= MAX_ID:
            return f"{key} is out of range"
    for key in ("offset", "per_page"):
        if key in args:
            raw = str(args[key])
            if not raw.isdigit() or len(raw) > 9:
                return f"{key} must be a whole number"
            if key == "per_page" and not 1 <= int(raw) <= MAX_PAGE:
                return f"per_page must be between 1 and {MAX_PAGE}"
    dates = {}
    for key in ("start_date", "end_date"):
        if key in args:
            try:
                dates[key] = datetime.strptime(str(args[key]), "%Y-%m-%d")
            except ValueError:
                return f"{key} must be a date like 2026-01-31"
    if len(dates) == 2:
        span = (dates["end_date"] - dates["start_date"]).days
        if span < 0:
            return "end_date is before start_date"
        if span > MAX_DAYS:
            return f"the range may span at most {MAX_DAYS} days"
    return None


def guard(view):
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        problem = _problem(kwargs)
        if problem:
            return jsonify(error="bad_request", message=problem), 400
        result = view(*args, **kwargs)
        if result is None:  # FMD swallowed an error: nothing to show for that input
            return jsonify(error="not_found", message="nothing recorded for that request"), 404
        return result
    return guarded


def init_app(app, blueprint_name: str) -> None:
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(blueprint_name + ".") and "/api/" in rule.rule:
            view = app.view_functions[rule.endpoint]
            if not getattr(view, "_flask_perf_guarded", False):
                app.view_functions[rule.endpoint] = guarded = guard(view)
                guarded._flask_perf_guarded = True
