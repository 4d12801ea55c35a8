"""Keep scipy out of the workers until the dashboard's report page needs it.

Flask-MonitoringDashboard imports ``scipy.stats`` when it loads, for one function
of its reporting page (``median_test``). That import alone is ~70 MB resident per
process, which doubled the memory of a gunicorn worker. ``defer_scipy_stats()``
puts a stand-in ``scipy.stats`` module in place whose ``median_test`` (and any
other attribute) imports the real module on first use.
"""
import importlib
import sys
import types


class _DeferredStats(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):  # the import system probing (__path__, __spec__ ...)
            raise AttributeError(name)
        return getattr(_real_stats(), name)


def _real_stats():
    if isinstance(sys.modules.get("scipy.stats"), _DeferredStats):
        del sys.modules["scipy.stats"]
    return importlib.import_module("scipy.stats")


def _median_test(*args, **kwargs):
    return _real_stats().median_test(*args, **kwargs)


def defer_scipy_stats() -> None:
    """Call before Flask-MonitoringDashboard is imported; harmless if scipy is loaded."""
    if "scipy.stats" in sys.modules:
        return
    stand_in = _DeferredStats("scipy.stats", "loads scipy.stats on first use (dashboard_lazy.py)")
    stand_in.median_test = _median_test
    sys.modules["scipy.stats"] = stand_in
