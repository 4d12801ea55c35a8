"""Replacing attributes of the integrated tools, checked against the installed release.

Each tool folder's ``patches.py`` is a table of ``Patch`` rows: what we replace (an
object or import path and an attribute, or a tool's view by endpoint name), with what,
and the upstream release it was written against. ``apply()`` checks every row first
-- target and attribute still there, and the upstream code that should call the name
still looks it up (its compiled names, nested functions included) -- and raises
``ConfigError``, one line per problem, before replacing anything; ``check()`` returns
the problems (tests/test_patches.py). So an upgrade that renames a patched name stops
the app at start instead of silently restoring the stock behaviour. ``once()`` keeps a
second app in one process from wrapping anything twice.
"""
import importlib
import importlib.metadata
import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_perf.config import ConfigError

VIEWS = "app.view_functions"  # target of a row that replaces a tool's view, by endpoint name
MARKER, ORIGINAL = "_flask_perf", "_flask_perf_original"
_MISSING = object()


@dataclass(frozen=True)
class Patch:
    target: Any  # an object, an import path ("package.module.Class") or VIEWS
    attribute: str  # the attribute, or the endpoint name when the target is VIEWS
    replacement: Any  # the new value; with wraps=True a function (current value, app) -> new value
    upstream: tuple[str, str]  # (distribution, the version this row was written against)
    # (caller, name) or a tuple of them: the caller's code must still look ``name`` up;
    # or a callable (patch, app) -> a problem ("... is no longer ...") or None.
    guard: Any = None
    wraps: bool = False

    @property
    def where(self) -> str:
        if self.target == VIEWS:
            return f'{VIEWS}["{self.attribute}"]'
        return f"{_label(self.target)}.{self.attribute}"

    def problem(self, app=None) -> str | None:
        """What keeps this row from working with the installed release, or None."""
        try:
            container = _container(self, app)
        except LookupError:
            return f"{_label(self.target)} is gone"
        if _get(container, self.attribute) is _MISSING:
            return f"{self.where} is gone"
        if callable(self.guard):
            return self.guard(self, app)
        pairs = (self.guard,) if self.guard and isinstance(self.guard[1], str) else self.guard or ()
        for caller, name in pairs:
            try:
                used = name in code_names(resolve(caller))
            except LookupError:
                return f"{_label(caller)} is gone"
            if not used:
                return f"{_label(self.target)}.{name} is no longer used by {_label(caller)}"
        return None

    def message(self, problem: str) -> str:
        package, version = self.upstream
        try:
            installed = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            installed = "(not installed)"
        return (f"flask_perf: {package} {installed}: {problem}; this flask_perf was written "
                f"for {version}: pin {package}=={version} or upgrade flask_perf")


def check(patches, app=None) -> list[str]:
    """The problems of ``patches`` with the installed releases, as ``apply()`` would report them."""
    return [patch.message(problem) for patch in patches if (problem := patch.problem(app))]


def apply(patches, app=None) -> None:
    """Check every row, then replace; ``ConfigError`` (nothing replaced) on any problem."""
    problems = check(patches, app)
    if problems:
        raise ConfigError("\n".join(problems))
    for patch in patches:
        container = _container(patch, app)
        current = _get(container, patch.attribute)
        new = patch.replacement(current, app) if patch.wraps else patch.replacement
        if new is not current:
            _set(container, patch.attribute, new)


def once(wrap: Callable) -> Callable:
    """A ``wraps`` replacement that wraps the current value once per process: ``wrap(current)``
    is marked ``_flask_perf`` (and keeps the original for the guards); a marked value stays."""
    def replacement(current, _app):
        if getattr(current, MARKER, False):
            return current
        new = wrap(current)
        setattr(new, MARKER, True)
        setattr(new, ORIGINAL, current)
        return new
    return replacement


def resolve(target):
    """The object an import path names (modules imported as needed); other targets as given."""
    if not isinstance(target, str):
        return target
    parts = target.split(".")
    for split in range(len(parts), 0, -1):
        module_name = ".".join(parts[:split])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name + ".").startswith(exc.name + "."):
                continue  # not a module (a class, a function, or gone): look one level up
            raise
        for part in parts[split:]:
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise LookupError(target) from None
        return obj
    raise LookupError(target)


def code_names(function) -> set[str]:
    """Every global, attribute and free name ``function``'s code looks up, nested code included."""
    while getattr(function, ORIGINAL, None) is not None:  # our wrapper: the guard means upstream's
        function = getattr(function, ORIGINAL)
    function = inspect.unwrap(getattr(function, "__func__", function))
    code = getattr(function, "__code__", None)
    return _names(code) if code is not None else set()


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names) | set(code.co_freevars)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _container(patch: Patch, app):
    if patch.target == VIEWS:
        if app is None:
            raise TypeError(f"{patch.where}: rows on {VIEWS} need the app")
        return app.view_functions
    return resolve(patch.target)


def _get(container, attribute: str):
    if isinstance(container, dict):  # app.view_functions
        return container.get(attribute, _MISSING)
    return getattr(container, attribute, _MISSING)


def _set(container, attribute: str, value) -> None:
    if isinstance(container, dict):
        container[attribute] = value
    else:
        setattr(container, attribute, value)


def _label(target) -> str:
    if isinstance(target, str):
        return target
    return f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', repr(target))}".lstrip(".")
