"""FMD's wrapper for one view at a given level, built without touching the view chain.

FMD's ``add_decorator`` reads ``config.app.view_functions[name]``, wraps it and writes
the wrapper back: over flask-profiler's wrapper, or under it after unwrapping through
``.original`` (which dropped flask-profiler, levels.py). ``fmd_wrapper`` lets it run
against a stand-in app for the duration of the call: in this thread it reads the
bare view and its write is captured; every other read and write (other threads,
other endpoints) goes to the real app, so nothing else sees a difference.
"""
import threading

_build_lock = threading.Lock()  # FMD's config.app is global: one build at a time


class _CaptureViews:
    """``app.view_functions`` as FMD sees it while it builds one wrapper (in this thread):
    it reads the bare view, and its write of the wrapper is kept here."""

    def __init__(self, views: dict, name: str, bare):
        self._views, self._name, self._bare = views, name, bare
        self._thread = threading.get_ident()
        self.captured = None

    def _mine(self, key) -> bool:
        return key == self._name and threading.get_ident() == self._thread

    def __getitem__(self, key):
        return self._bare if self._mine(key) else self._views[key]

    def __setitem__(self, key, value):
        if self._mine(key):
            self.captured = value
        else:
            self._views[key] = value

    def __getattr__(self, attr):
        return getattr(self._views, attr)


class _CaptureApp:
    def __init__(self, app, views: _CaptureViews):
        self._app, self.view_functions = app, views

    def __getattr__(self, attr):
        return getattr(self._app, attr)


def fmd_wrapper(app, endpoint, bare):
    """What FMD's ``add_decorator(endpoint)`` would install for ``bare`` at ``endpoint.monitor_level``."""
    import flask_monitoringdashboard as fmd
    from flask_monitoringdashboard.core import measurement

    views = _CaptureViews(app.view_functions, endpoint.name, bare)
    with _build_lock:
        saved, fmd.config.app = fmd.config.app, _CaptureApp(app, views)
        try:
            measurement.add_decorator(endpoint)
        finally:
            fmd.config.app = saved
    if views.captured is None:
        raise RuntimeError("Flask-MonitoringDashboard's add_decorator did not build a wrapper")
    return views.captured
