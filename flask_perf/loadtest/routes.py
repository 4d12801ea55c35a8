"""What the default scenario requests: every GET route of the app that needs no URL parameter.

Read from ``app.url_map``. Left out: routes with a variable part (``/items/<int:id>``)
or their own host or subdomain, the tools' own routes (``state.is_tool_endpoint``)
and whatever ``PERF_LOADTEST_EXCLUDE`` names: an entry starting with ``/`` is a path
prefix, any other an endpoint or blueprint name (``"admin"`` skips ``admin.*``).
"""
from flask import Flask

from flask_perf.state import is_tool_endpoint


def excluded_entries(app: Flask) -> tuple[str, ...]:
    value = app.config.get("PERF_LOADTEST_EXCLUDE") or ()
    if isinstance(value, str):  # APP_PERF_LOADTEST_EXCLUDE="admin,/internal"
        value = value.split(",")
    return tuple(entry.strip() for entry in value if entry.strip())


def is_excluded(endpoint: str, path: str, excluded: tuple[str, ...]) -> bool:
    prefixes = [entry for entry in excluded if entry.startswith("/")]
    names = {entry for entry in excluded if not entry.startswith("/")}
    return (any(path.startswith(prefix) for prefix in prefixes)
            or endpoint in names or endpoint.partition(".")[0] in names)


def default_paths(app: Flask) -> list[str]:
    """Paths of the app's parameterless GET routes, sorted, each once."""
    excluded = excluded_entries(app)
    paths = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or "<" in rule.rule or rule.host or rule.subdomain:
            continue
        if is_tool_endpoint(rule.endpoint) or is_excluded(rule.endpoint, rule.rule, excluded):
            continue
        paths.add(rule.rule)
    return sorted(paths)
