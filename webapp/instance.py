"""The instance folder: per-machine state and secrets, created on first run.

``instance/config.py`` gets a random ``SECRET_KEY``, created with mode 0600
(flask_perf keeps the monitoring login's hash next to it).
"""
import os
import secrets
import sys


TEMPLATE = '''"""Local settings of this machine (created on first run; never commit this file).

Values here override the profile; APP_* environment variables override these.
"""
SECRET_KEY = {secret_key!r}

# The login of /dashboard and /flask-profile is flask_perf's: flask-perf-login.json
# (printed once when created); set APP_PERF_MONITOR_PASSWORD to choose another.
'''


def ensure_instance_folder(instance_path: str) -> str:
    """Create the instance folder and its config.py when missing; return the config path."""
    os.makedirs(instance_path, exist_ok=True)
    path = os.path.join(instance_path, "config.py")
    if os.path.exists(path):
        return path
    content = TEMPLATE.format(secret_key=secrets.token_hex(32))
    # Write a private temp file, then link it into place: readers never see a
    # half-written file and a second worker starting at the same time loses cleanly.
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return path
    finally:
        os.unlink(tmp)
    print(f" * Created {path} with a new SECRET_KEY.", file=sys.stderr)
    return path
