"""The ``development`` profile: every browser tool on, dashboard at level 3."""
from config.base import BaseConfig


class DevelopmentConfig(BaseConfig):
    PROFILE = "development"
    PERF_PROFILE = "development"
