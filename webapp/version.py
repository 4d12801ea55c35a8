"""The app version recorded with every monitoring record: package version + git revision."""
import functools
import pathlib
import subprocess

__version__ = "0.1.0"
REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


@functools.cache
def git_revision() -> str | None:
    """Short git revision of the checkout (with ``.dirty`` for local changes), or None."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=8", "HEAD"], cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}.dirty" if dirty else rev or None


def app_version(configured: str | None = None) -> str:
    """``configured`` when set (APP_APP_VERSION), else ``0.1.0+g<rev>`` or ``0.1.0``."""
    if configured:
        return str(configured)
    rev = git_revision()
    return f"{__version__}+g{rev}" if rev else __version__
