"""flask_perf: a performance workbench any Flask app attaches in two lines.

    from flask_perf import FlaskPerf
    perf = FlaskPerf()
    perf.init_app(app)   # after the app's blueprints are registered

The profile (config.py) decides which tools attach, each in the order it needs:
the SQL recorder first; the dashboard and flask-profiler wrap the registered views;
the toolbar after them, so its own views stay unmeasured; the WSGI profiler wraps
everything, so it comes last. All state lives in ``app.extensions["flask_perf"]``
(a ``PerfState``); nothing outlives an app but what the third-party tools keep
per process (see each tool's ``patches.py``).
"""
from flask_perf.config import ConfigError
from flask_perf.loadtest import RUN_HEADER

__all__ = ["FlaskPerf", "PerfState", "ConfigError", "RUN_HEADER"]
__version__ = "0.2.0"


def __getattr__(name: str):
    """``FlaskPerf`` and ``PerfState`` load the tools' packages: only when first used."""
    if name in ("FlaskPerf", "PerfState"):
        from flask_perf import extension

        return getattr(extension, name)
    raise AttributeError(f"module 'flask_perf' has no attribute {name!r}")
