"""The ``production`` profile: cheap statistics only; the toolbar can never attach.

``secret_key_problem`` refuses to start with a missing, short, well-known (among them
Flask-MonitoringDashboard's fallback ``"my-secret-key"``) or low-entropy SECRET_KEY
(``"a" * 36``, ``"abcd" * 8``): the rules are flask_perf's (flask_perf/secret_key.py),
which applies them too whenever the production dashboard attaches.
"""
from flask_perf import secret_key

from config.base import BaseConfig

KNOWN_DEFAULT_KEYS = secret_key.KNOWN_DEFAULT_KEYS
MIN_SECRET_KEY_LENGTH = secret_key.MIN_LENGTH


class ProductionConfig(BaseConfig):
    PROFILE = "production"
    PERF_PROFILE = "production"

    @staticmethod
    def secret_key_problem(key) -> str | None:
        """Why ``key`` is unfit for production, or None when it is fine."""
        return secret_key.problem(key)
