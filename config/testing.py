"""The ``testing`` profile: statistics recorded under the instance folder, no toolbar."""
from config.base import BaseConfig


class TestingConfig(BaseConfig):
    PROFILE = "testing"
    TESTING = True
    DASHBOARD_ENABLED = True
    DASHBOARD_LEVEL = 1
    FLASK_PROFILER_ENABLED = True
    SLOW_QUERY_ENABLED = True
