"""Keep scipy, numpy and APScheduler out of the workers until a dashboard page needs them.

Flask-MonitoringDashboard imports all three when it loads and uses them only on its
pages: scipy.stats for one report function (``median_test``, ~70 MB resident), numpy
for medians, percentiles and standard deviations (~15 MB), and APScheduler for a
``BackgroundScheduler()`` made at import for its pruning schedule (~10 MB with the
package metadata APScheduler reads). We bind FMD with ``schedule=False``, so that
scheduler never runs. Together numpy and APScheduler took a production worker from
~77 MB to ~100 MB.

- ``defer_scipy_stats()`` puts a stand-in ``scipy.stats`` in ``sys.modules`` for good:
  its attributes import the real module on first use.
- ``deferred_imports()`` does the same for ``numpy`` and ``apscheduler.schedulers
  .background`` only while FMD's modules load (flask_perf/dashboard/__init__.py). The
  modules loaded then keep the stand-ins; afterwards ``sys.modules`` holds the real
  packages again for every other import. A package already loaded is left alone.
  ``from numpy import median`` (and ``std``) gets a function that calls numpy's;
  ``BackgroundScheduler()`` gets a scheduler built on first use.
  tests/test_memory.py checks FMD's imports against these names.
"""
import contextlib
import importlib
import sys
import threading
import types


class _Deferred(types.ModuleType):
    """A stand-in module: any attribute not set on it comes from the real module."""

    def __getattr__(self, name):
        if name.startswith("__"):  # the import system probing (__path__, __spec__ ...)
            raise AttributeError(name)
        return getattr(_real(self.__name__), name)


def _real(name: str) -> types.ModuleType:
    """The real module ``name``, imported now if need be (also while stand-ins are in place)."""
    parts = name.split(".")
    for package in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
        if isinstance(sys.modules.get(package), _Deferred):
            del sys.modules[package]
    return importlib.import_module(name)


def _calls(module: str, name: str):
    def call(*args, **kwargs):
        return getattr(_real(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{module}.{name}, imported on first call (flask_perf/dashboard/lazy.py)"
    return call


class _DeferredStats(_Deferred):
    """``scipy.stats``'s stand-in, in ``sys.modules`` for good."""


def defer_scipy_stats() -> None:
    """Call before Flask-MonitoringDashboard is imported; harmless if scipy is loaded."""
    if "scipy.stats" in sys.modules:
        return
    stand_in = _DeferredStats("scipy.stats", "loads scipy.stats on first use (flask_perf/dashboard/lazy.py)")
    stand_in.median_test = _calls("scipy.stats", "median_test")
    sys.modules["scipy.stats"] = stand_in


class SchedulerAlreadyRunningError(Exception):
    """Stands in for APScheduler's; ``_Scheduler.start`` raises it for the real one."""


class _Scheduler:
    """``BackgroundScheduler(...)``, built when first used (FMD's pruning views)."""

    def __init__(self, *args, **kwargs):
        self._arguments, self._scheduler, self._lock = (args, kwargs), None, threading.Lock()

    def _real_scheduler(self):
        with self._lock:
            if self._scheduler is None:
                args, kwargs = self._arguments
                self._scheduler = _real("apscheduler.schedulers.background").BackgroundScheduler(*args, **kwargs)
            return self._scheduler

    def __getattr__(self, name):
        if name.startswith("_"):  # ours before __init__ ran (copy, pickle), and dunder probes
            raise AttributeError(name)
        return getattr(self._real_scheduler(), name)

    def start(self, *args, **kwargs):
        errors = _real("apscheduler.schedulers")
        try:
            return self._real_scheduler().start(*args, **kwargs)
        except errors.SchedulerAlreadyRunningError as err:
            raise SchedulerAlreadyRunningError(str(err)) from err


# module -> the names FMD 5.1 imports from it with ``from ... import``
STAND_INS = {
    "numpy": {"median": _calls("numpy", "median"), "std": _calls("numpy", "std")},
    "apscheduler": {},
    "apscheduler.schedulers": {"SchedulerAlreadyRunningError": SchedulerAlreadyRunningError},
    "apscheduler.schedulers.background": {"BackgroundScheduler": _Scheduler},
}


@contextlib.contextmanager
def deferred_imports():
    """Stand-ins for numpy and APScheduler in ``sys.modules`` while the block runs."""
    placed, loaded = [], {name for name in STAND_INS if name.split(".")[0] in sys.modules}
    for name, attributes in STAND_INS.items():
        if name in loaded:  # its package is loaded already (or is another block's): nothing to save
            continue
        stand_in = _Deferred(name, "imported on first use (flask_perf/dashboard/lazy.py)")
        stand_in.__dict__.update(attributes)
        sys.modules[name] = stand_in
        placed.append((name, stand_in))
    try:
        yield
    finally:
        for name, stand_in in placed:
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
