"""Click parameter types shared by the commands: durations like 30s, 2m, 1h30m, 7d."""
import re

import click

DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?$")


class Duration(click.ParamType):
    """Seconds, from ``45``, ``30s``, ``2m``, ``1h30m`` or ``7d``."""

    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        text = str(value).strip()
        match = DURATION.match(text)
        if not text or not match or not any(match.groups()):
            self.fail(f"{value!r} is not a duration (examples: 30s, 2m, 1h30m, 7d, 45)", param, ctx)
        days, hours, minutes, seconds = match.groups()
        total = int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60 \
            + float(seconds or 0)
        if total <= 0:
            self.fail("must be longer than 0s", param, ctx)
        return total
