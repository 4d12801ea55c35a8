"""The one login of the monitoring pages (/dashboard and /flask-profile).

Reads ``PERF_MONITOR_USER`` and ``PERF_MONITOR_PASSWORD_HASH``, or
``PERF_MONITOR_PASSWORD`` (hashed at start and removed from the config). With
neither, a random password is generated once: its hash goes to
``<instance>/flask-perf-login.json`` (mode 0600), the password is printed once and
stored nowhere. There is no default password.
"""
import hashlib
import hmac
import json
import os
import secrets
import sys

from werkzeug.security import check_password_hash, generate_password_hash

from flask_perf.config import ConfigError

LOGIN_FILE = "flask-perf-login.json"


class MonitorCredentials:
    def __init__(self, user: str, password_hash: str, plain_digest: str | None = None):
        self.user = user
        self.password_hash = password_hash
        self._loaded = (password_hash, plain_digest)

    @property
    def identity(self) -> str:
        """What identifies the current password in every worker and after a restart (login
        generations, sessions.py): the hash, or for a password configured in plain text,
        which each process hashes with a new salt, a keyed digest of it."""
        loaded_hash, plain_digest = self._loaded
        return plain_digest if plain_digest and self.password_hash == loaded_hash else self.password_hash

    def check(self, user: str | None, password: str | None) -> bool:
        """Constant-time for the user name; the hash check is slow by design."""
        user_ok = hmac.compare_digest((user or "").encode(), self.user.encode())
        password_ok = check_password_hash(self.password_hash, password or "")
        return user_ok and password_ok


def load_credentials(app) -> MonitorCredentials:
    user = str(app.config.get("PERF_MONITOR_USER") or "admin")
    plain = app.config.pop("PERF_MONITOR_PASSWORD", None)
    digest = None
    if plain:
        app.config["PERF_MONITOR_PASSWORD_HASH"] = generate_password_hash(str(plain))
        key = str(app.config.get("SECRET_KEY") or "").encode()
        digest = "plain:" + hmac.new(key, str(plain).encode(), hashlib.sha256).hexdigest()
    password_hash = app.config.get("PERF_MONITOR_PASSWORD_HASH")
    if not password_hash:
        user, password_hash = generated_login(app.instance_path, user)
    return MonitorCredentials(user, password_hash, digest)


def generated_login(instance_path: str, user: str) -> tuple[str, str]:
    """(user, hash) from the login file, created with a random password if missing."""
    path = os.path.join(instance_path, LOGIN_FILE)
    try:
        with open(path) as handle:
            data = json.load(handle)
        return str(data["user"]), str(data["password_hash"])
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is unreadable ({exc}); delete it to get a new password") from None
    os.makedirs(instance_path, exist_ok=True)
    password = secrets.token_urlsafe(12)
    data = {"user": user, "password_hash": generate_password_hash(password)}
    # A private temp file linked into place: a second worker starting at the same
    # time loses cleanly and reads the winner's file.
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return generated_login(instance_path, user)
    finally:
        os.unlink(tmp)
    print(f" * flask_perf: monitoring login (/dashboard, /flask-profile): user {user!r}, password "
          f"{password!r} (shown once; only its hash is kept in {path}).", file=sys.stderr)
    return user, data["password_hash"]
