"""The ``bare`` profile: no tooling at all, the baseline for overhead benchmarks."""
from config.base import BaseConfig


class BareConfig(BaseConfig):
    PROFILE = "bare"
    PERF_PROFILE = "bare"
