"""The ``profiling`` profile: .prof files per request, statistics, no toolbar.

The toolbar's profiler panel and werkzeug's ProfilerMiddleware both use cProfile;
nesting them truncates profiles, so only the middleware runs here.
"""
from config.base import BaseConfig


class ProfilingConfig(BaseConfig):
    PROFILE = "profiling"
    SQLALCHEMY_RECORD_QUERIES = True
    DASHBOARD_ENABLED = True
    DASHBOARD_LEVEL = 1
    FLASK_PROFILER_ENABLED = True
    WSGI_PROFILER_ENABLED = True
    SLOW_QUERY_ENABLED = True
