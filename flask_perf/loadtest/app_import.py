"""The app of ``flask --app ...`` as gunicorn names it, so the load test serves the same app.

Flask accepts ``module``, ``module:name``, ``module:factory(args)`` and
``path/to/file.py[:name]`` (``--app``, else ``FLASK_APP``, else ``wsgi.py`` or
``app.py`` in the current directory); gunicorn wants ``module:name`` or
``module:factory(args)`` and a directory to import from. Flask's own
``prepare_import`` turns a path into a module name, as it did when it loaded the app.
"""
import inspect
import os
import re
import sys
from dataclasses import dataclass

import click
from flask.cli import ScriptInfo, prepare_import

AUTODETECTED = ("wsgi.py", "app.py")  # what Flask tries without --app or FLASK_APP
FACTORIES = ("create_app", "make_app")


@dataclass(frozen=True)
class AppImport:
    flask_app: str  # for `flask --app` (perf init)
    gunicorn_app: str  # module:name or module:factory(...)
    pythonpath: str  # directory the module is imported from


def current_app_import(app) -> AppImport:
    """How the running ``flask`` command found ``app`` (a click error if it cannot tell)."""
    info = click.get_current_context().ensure_object(ScriptInfo)
    import_path = info.app_import_path or os.environ.get("FLASK_APP")
    if not import_path:
        import_path = next((name for name in AUTODETECTED if os.path.isfile(name)), None)
    if not import_path:
        raise click.ClickException("cannot tell which app to serve: run `flask --app MODULE perf "
                                   "loadtest` (or load a running server with --url)")
    path, name = (re.split(r":(?![\\/])", import_path, maxsplit=1) + [None])[:2]
    module_name = prepare_import(path)
    root = sys.path[0]  # prepare_import puts the module's directory first
    module = sys.modules.get(module_name)
    if module is None:
        raise click.ClickException(f"{import_path!r} did not load module {module_name!r}; "
                                   "pass --url to load a running server")
    return AppImport(import_path, f"{module_name}:{_object_expression(module, name, app)}", root)


def _object_expression(module, name: str | None, app) -> str:
    if name is None:
        found = next((attr for attr, value in vars(module).items() if value is app), None)
        if found:
            return found
        factory = next((f for f in FACTORIES if inspect.isfunction(getattr(module, f, None))), None)
        if factory:
            return f"{factory}()"
        raise click.ClickException(f"cannot find the app in module {module.__name__!r}: "
                                   f"use `flask --app {module.__name__}:NAME`")
    if name.isidentifier() and inspect.isfunction(getattr(module, name, None)):
        return f"{name}()"  # Flask calls a bare factory name; gunicorn needs the call spelled out
    return name

