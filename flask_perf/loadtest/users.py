"""The Locust user classes of a run: the locustfile loaded by path, the scenario picked.

Imported in the Locust process only, after gevent has patched the standard library
(Locust fails to import once flask_perf has pulled in ssl unpatched). ``scenario``:
a key of the file's ``SCENARIOS`` dict (name → list of user classes), else a user
class by name; none given: ``SCENARIOS["default"]`` if the file has it, else every
non-abstract user class in the file, as ``locust -f`` would run.
"""
import importlib.util
import inspect
import os
import sys

from locust import User

MODULE_NAME = "flask_perf_locustfile"


def load_locustfile(path: str):
    """Import ``path`` as a module; its folder is searched last, so it can import siblings."""
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.append(folder)
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


def _is_user_class(value) -> bool:
    return inspect.isclass(value) and issubclass(value, User) and not value.abstract


def pick_users(module, scenario: str | None) -> list[type]:
    scenarios = getattr(module, "SCENARIOS", None)
    every_class = [value for value in vars(module).values() if _is_user_class(value)]
    if isinstance(scenarios, dict):
        known = sorted(scenarios)
        users = scenarios.get(scenario or "default", None if scenario else every_class)
    else:
        known = sorted(user.__name__ for user in every_class)
        users = [getattr(module, scenario, None)] if scenario else every_class
    if scenario and (users is None or not all(_is_user_class(user) for user in users)):
        raise SystemExit(f"scenario {scenario!r} is not in {module.__file__}: "
                         f"known are {', '.join(known) or 'none'}")
    if not users or not all(_is_user_class(user) for user in users):
        raise SystemExit(f"{module.__file__}: no non-abstract Locust user classes to run")
    return list(users)
