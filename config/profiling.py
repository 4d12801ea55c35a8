"""The ``profiling`` profile: .prof files per request, statistics, no toolbar.

The toolbar's profiler panel and werkzeug's ProfilerMiddleware both use cProfile;
nesting them truncates profiles, so only the middleware runs here.
"""
from config.base import BaseConfig


class ProfilingConfig(BaseConfig):
    PROFILE = "profiling"
    PERF_PROFILE = "profiling"
