"""The one login of the monitoring pages (/dashboard and /flask-profile).

Reads ``MONITOR_USER`` and ``MONITOR_PASSWORD_HASH`` (written to instance/config.py
on first run) or ``MONITOR_PASSWORD`` (e.g. ``APP_MONITOR_PASSWORD``), which is
hashed at start and never kept in plain text in the config afterwards.
"""
import hmac

from werkzeug.security import check_password_hash, generate_password_hash


class MonitorCredentials:
    def __init__(self, user: str, password_hash: str):
        self.user = user
        self.password_hash = password_hash

    def check(self, user: str | None, password: str | None) -> bool:
        """Constant-time for the user name; the hash check is slow by design."""
        user_ok = hmac.compare_digest((user or "").encode(), self.user.encode())
        password_ok = check_password_hash(self.password_hash, password or "")
        return user_ok and password_ok


def credentials(app) -> MonitorCredentials:
    """The app's monitoring credentials, created once per app."""
    existing = app.extensions.get("flask_perf_credentials")
    if existing is not None:
        return existing
    user = str(app.config.get("MONITOR_USER") or "admin")
    plain = app.config.pop("MONITOR_PASSWORD", None)
    if plain:
        password_hash = generate_password_hash(str(plain))
        app.config["MONITOR_PASSWORD_HASH"] = password_hash
    else:
        password_hash = app.config.get("MONITOR_PASSWORD_HASH")
    if not password_hash:
        raise RuntimeError("no monitoring password: set MONITOR_PASSWORD_HASH in "
                           "instance/config.py or APP_MONITOR_PASSWORD")
    creds = app.extensions["flask_perf_credentials"] = MonitorCredentials(user, password_hash)
    return creds
