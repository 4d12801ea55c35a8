"""Strict parsing of id query parameters.

Ids are positive integers that fit a signed 32-bit INTEGER column on every backend:
SQLite raises OverflowError on ``10**30`` and MariaDB would silently compare out of
range, so both are refused here with a 400 naming the parameter.
"""
import re

from flask import request
from werkzeug.exceptions import BadRequest

MAX_ID = 2**31 - 1
_DIGITS = re.compile(r"[0-9]+")


class BadParameter(BadRequest):
    """A query parameter is missing or not a valid id; rendered as a JSON 400.

    An HTTPException, so the monitoring tools record a 400, not a server error.
    """

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter
        self.message = message


def id_arg(name: str) -> int:
    """Return query parameter ``name`` as a valid id or raise BadParameter."""
    values = request.args.getlist(name)
    if not values:
        raise BadParameter(name, f"{name} is required")
    if len(values) > 1:
        raise BadParameter(name, f"{name} must be given once")
    return parse_id(name, values[0])


def parse_id(name: str, raw: str) -> int:
    """``raw`` (the text of parameter ``name``) as a valid id, or raise BadParameter."""
    if not _DIGITS.fullmatch(raw):
        raise BadParameter(name, f"{name} must be a positive integer")
    # Compare lengths before int(): Python refuses to parse over 4,300 digits.
    value = int(raw) if len(raw) <= len(str(MAX_ID)) else MAX_ID + 1
    if not 1 <= value <= MAX_ID:
        raise BadParameter(name, f"{name} must be between 1 and {MAX_ID}")
    return value
