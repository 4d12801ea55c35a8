"""The version label stored with every record, when the app sets no ``PERF_VERSION``.

The short git revision of the checkout the app lives in (``.dirty`` with local
changes), else ``unversioned``. Label runs yourself (``PERF_VERSION`` or
``FLASK_PERF_VERSION``) to compare them in ``flask perf report``.
"""
import functools
import subprocess


@functools.cache
def git_revision(directory: str) -> str | None:
    """Short git revision of the checkout holding ``directory``, or None."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=8", "HEAD"], cwd=directory,
                             capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=directory, capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}.dirty" if dirty and rev else rev or None


def default_version(app) -> str:
    rev = git_revision(app.root_path)
    return f"g{rev}" if rev else "unversioned"
