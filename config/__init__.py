"""Config profiles: one class per profile, picked by name (``APP_PROFILE``).

The profile class is the first layer of configuration; ``instance/config.py``,
``APP_*`` environment variables and ``test_config`` are applied on top of it by
``webapp.create_app``.
"""
import click

from config.bare import BareConfig
from config.development import DevelopmentConfig
from config.production import ProductionConfig
from config.profiling import ProfilingConfig
from config.testing import TestingConfig

PROFILES = {
    "development": DevelopmentConfig,
    "profiling": ProfilingConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
    "bare": BareConfig,
}
DEFAULT_PROFILE = "development"


class ConfigError(click.ClickException):
    """The configuration cannot start an app.

    A ClickException so that ``flask --app wsgi ...`` prints one clear line and
    exits non-zero instead of a traceback.
    """


def get_profile(name: str | None) -> type:
    """Return the config class for ``name`` or raise ConfigError listing valid names."""
    name = (name or DEFAULT_PROFILE).strip().lower()
    try:
        return PROFILES[name]
    except KeyError:
        valid = ", ".join(sorted(PROFILES))
        raise ConfigError(f"unknown profile {name!r}; valid profiles: {valid}") from None
