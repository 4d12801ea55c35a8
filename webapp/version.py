"""The demo's version label: package version + git revision (flask_perf's helper)."""
import pathlib

from flask_perf.version import git_revision

__version__ = "0.1.0"
REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


def app_version(configured: str | None = None) -> str:
    """``configured`` when set (APP_PERF_VERSION), else ``0.1.0+g<rev>`` or ``0.1.0``."""
    if configured:
        return str(configured)
    rev = git_revision(str(REPO_ROOT))
    return f"{__version__}+g{rev}" if rev else __version__
