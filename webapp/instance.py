"""The instance folder: per-machine state and secrets, created on first run.

``instance/config.py`` gets a random ``SECRET_KEY`` and the hash of a random
password for the monitoring pages; the password itself is printed once and
stored nowhere. The file is created with mode 0600.
"""
import os
import secrets
import sys

from werkzeug.security import generate_password_hash

TEMPLATE = '''"""Local settings of this machine (created on first run; never commit this file).

Values here override the profile; APP_* environment variables override these.
"""
SECRET_KEY = {secret_key!r}

# Login of /dashboard and /flask-profile. The password was printed once when this
# file was created; set APP_MONITOR_PASSWORD to choose another.
MONITOR_USER = "admin"
MONITOR_PASSWORD_HASH = {password_hash!r}
'''


def ensure_instance_folder(instance_path: str) -> str:
    """Create the instance folder and its config.py when missing; return the config path."""
    os.makedirs(instance_path, exist_ok=True)
    path = os.path.join(instance_path, "config.py")
    if os.path.exists(path):
        return path
    password = secrets.token_urlsafe(12)
    content = TEMPLATE.format(secret_key=secrets.token_hex(32),
                              password_hash=generate_password_hash(password))
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
    print(f" * Created {path} with a new SECRET_KEY.\n"
          f" * Monitoring login (/dashboard, /flask-profile): user 'admin', password "
          f"'{password}' (shown once; only its hash is stored).", file=sys.stderr)
    return path
