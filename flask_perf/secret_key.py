"""Is ``SECRET_KEY`` strong enough to sign the dashboard's admin sessions?

Flask-MonitoringDashboard keeps its login in Flask's signed session cookie: whoever
can guess the key can forge an admin session. ``problem`` estimates, it cannot prove:
it refuses a missing or well-known key, fewer than ``MIN_LENGTH`` characters, fewer
than ``MIN_DISTINCT`` distinct characters, one character making up over a third of
the key, a repeated pattern (``"abcdefgh" * 4``: under 3/4 of its 3-character windows
distinct), and an estimated entropy under
``MIN_BITS``: length × log2(alphabet), the alphabet being the character classes the
key uses (hex digits count 16) but at most twice its distinct characters.
``secrets.token_hex(32)`` (what the demo's instance config gets) is ~256 bits.

``check`` runs it when flask_perf attaches the ``production`` profile with the
dashboard on, and raises ConfigError naming the problem.
"""
import collections
import math
import string

KNOWN_DEFAULT_KEYS = {
    "my-secret-key", "secret", "secret-key", "changeme", "change-me", "dev", "development",
    "default", "your-secret-key", "super-secret", "supersecret", "you-will-never-guess",
}
MIN_LENGTH, MIN_DISTINCT, MIN_BITS = 32, 8, 128
HEX = set(string.hexdigits)
CLASSES = ((set(string.digits), 10), (set(string.ascii_lowercase), 26), (set(string.ascii_uppercase), 26))


def _alphabet(key: str) -> int:
    chars = set(key)
    if chars <= HEX and not (chars & set("abcdef") and chars & set("ABCDEF")):
        return 16
    size = sum(n for members, n in CLASSES if chars & members)
    return size + (33 if any(c not in string.ascii_letters + string.digits for c in chars) else 0)


def estimated_bits(key: str) -> float:
    """length × log2(alphabet), the alphabet at most twice the distinct characters."""
    return len(key) * math.log2(max(1, min(_alphabet(key), 2 * len(set(key)))))


def _repeats(key: str) -> bool:
    """True when fewer than 3/4 of ``key``'s 3-character windows are distinct: a repeated
    unit (``"abcdefgh" * 4``), even with a character changed at the end."""
    windows = [key[i:i + 3] for i in range(len(key) - 2)]
    return len(set(windows)) * 4 < len(windows) * 3


def problem(key) -> str | None:
    """Why ``key`` is unfit to sign production sessions, or None when it will do."""
    if not key:
        return "SECRET_KEY is missing"
    if not isinstance(key, (str, bytes)):
        return "SECRET_KEY must be a string"
    text = key.decode("latin-1") if isinstance(key, bytes) else key
    if text.strip().lower() in KNOWN_DEFAULT_KEYS:
        return "SECRET_KEY is a well-known default"
    if len(text) < MIN_LENGTH:
        return f"SECRET_KEY is shorter than {MIN_LENGTH} characters"
    distinct = len(set(text))
    if distinct < MIN_DISTINCT:
        return f"SECRET_KEY has only {distinct} distinct characters (fewer than {MIN_DISTINCT})"
    if collections.Counter(text).most_common(1)[0][1] * 3 > len(text):
        return "SECRET_KEY repeats one character in over a third of its length"
    if _repeats(text):
        return "SECRET_KEY repeats a pattern"
    if (bits := estimated_bits(text)) < MIN_BITS:
        return (f"SECRET_KEY has too little entropy (~{bits:.0f} bits estimated, {MIN_BITS} needed; "
                "use secrets.token_hex(32))")
    return None


def check(app, profile: str) -> None:
    """Refuse a weak SECRET_KEY when ``profile`` is production and the dashboard is on."""
    from flask_perf.config import ConfigError

    if profile != "production" or not app.config.get("PERF_DASHBOARD_ENABLED"):
        return
    if found := problem(app.config.get("SECRET_KEY")):
        raise ConfigError(f"flask_perf refuses the production dashboard: {found} (it signs the "
                          "dashboard's admin sessions; set a random SECRET_KEY, e.g. secrets.token_hex(32))")
