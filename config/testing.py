"""The ``testing`` profile: statistics recorded under the instance folder, no toolbar."""
from config.base import BaseConfig


class TestingConfig(BaseConfig):
    PROFILE = "testing"
    PERF_PROFILE = "testing"
    TESTING = True
