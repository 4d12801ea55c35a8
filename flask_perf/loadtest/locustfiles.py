"""Which locustfile a run uses, and the scenarios it declares, read without importing it.

``--locustfile PATH`` (relative to the current directory), else the app's
``PERF_LOADTEST_LOCUSTFILE`` (relative to ``app.root_path``), else flask_perf's
``default_scenario.py``. A scenario is a key of the file's ``SCENARIOS`` dict or
the name of one of its user classes (``users.py`` picks them in the Locust
process). The CLI process must not import Locust (it patches the standard library
with gevent), so ``--scenario`` is checked against the file's syntax tree.
"""
import ast
import os

import click
from flask import Flask

DEFAULT_SCENARIO = os.path.join(os.path.dirname(__file__), "default_scenario.py")


def resolve_locustfile(app: Flask, option: str | None) -> str | None:
    """The app's locustfile as an absolute path, or None: the default scenario."""
    if option:
        return os.path.abspath(option)
    configured = app.config.get("PERF_LOADTEST_LOCUSTFILE")
    if not configured:
        return None
    path = os.path.join(app.root_path, os.fspath(configured))
    if not os.path.isfile(path):
        raise click.ClickException(f"PERF_LOADTEST_LOCUSTFILE: {path} is not a file")
    return path


def declared_scenarios(path: str) -> list[str] | None:
    """Keys of a literal ``SCENARIOS`` dict, else the top-level class names; None: the
    file computes SCENARIOS (only the Locust process can tell)."""
    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
    except (OSError, SyntaxError, ValueError) as exc:
        raise click.ClickException(f"cannot read the locustfile {path}: {exc}") from None
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "SCENARIOS" for t in targets):
            if not isinstance(node.value, ast.Dict):
                return None
            return [key.value for key in node.value.keys
                    if isinstance(key, ast.Constant) and isinstance(key.value, str)]
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)]


def check_scenario(locustfile: str | None, scenario: str | None) -> None:
    """A click error (exit 2) for a ``--scenario`` the locustfile does not declare."""
    if scenario is None:
        return
    if locustfile is None:
        raise click.BadParameter("the default scenario has no named scenarios; pass --locustfile "
                                 "or set PERF_LOADTEST_LOCUSTFILE", param_hint="--scenario")
    names = declared_scenarios(locustfile)
    if names is not None and scenario not in names:
        raise click.BadParameter(f"{scenario!r} is not one of {', '.join(map(repr, sorted(names)))} "
                                 f"(in {locustfile})", param_hint="--scenario")
