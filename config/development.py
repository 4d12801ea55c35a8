"""The ``development`` profile: every browser tool on, dashboard at level 3."""
from config.base import BaseConfig


class DevelopmentConfig(BaseConfig):
    PROFILE = "development"
    SQLALCHEMY_RECORD_QUERIES = True
    DEBUG_TB_ENABLED = True
    DASHBOARD_ENABLED = True
    DASHBOARD_LEVEL = 3
    FLASK_PROFILER_ENABLED = True
    SLOW_QUERY_ENABLED = True
