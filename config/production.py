"""The ``production`` profile: cheap statistics only; the toolbar can never attach.

``validate`` refuses to start with a missing, short or well-known SECRET_KEY
(Flask-MonitoringDashboard's fallback ``"my-secret-key"`` among them).
"""
from config.base import BaseConfig

KNOWN_DEFAULT_KEYS = {
    "my-secret-key", "secret", "secret-key", "changeme", "change-me", "dev", "development",
    "default", "your-secret-key", "super-secret", "supersecret", "you-will-never-guess",
}
MIN_SECRET_KEY_LENGTH = 32


class ProductionConfig(BaseConfig):
    PROFILE = "production"
    PERF_PROFILE = "production"

    @staticmethod
    def secret_key_problem(key) -> str | None:
        """Why ``key`` is unfit for production, or None when it is fine."""
        if not key:
            return "SECRET_KEY is missing"
        if not isinstance(key, (str, bytes)):
            return "SECRET_KEY must be a string"
        if str(key).strip().lower() in KNOWN_DEFAULT_KEYS:
            return "SECRET_KEY is a well-known default"
        if len(key) < MIN_SECRET_KEY_LENGTH:
            return f"SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} characters"
        return None
