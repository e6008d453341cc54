"""Format assertions the jsonschema package would otherwise skip.

jsonschema only checks `date-time` when the optional `rfc3339-validator` package is present,
and it does not know the integer widths used by OpenAPI and Google discovery documents at all.
These checkers make every `format` that appears in the two documents an assertion.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime

from jsonschema import FormatChecker

# RFC 3339 section 5.6 `date-time`: full-date "T" full-time, with a mandatory offset.
RFC3339_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
BASE64URL = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")
DECIMAL = re.compile(r"^-?\d+$")

INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}


def is_rfc3339(value: str) -> bool:
    """True for a valid RFC 3339 date-time (the calendar date and the clock must exist)."""
    if not RFC3339_DATE_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def parse_rfc3339(value: str) -> datetime:
    assert is_rfc3339(value), f"not an RFC 3339 date-time: {value!r}"
    return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))


def _check_date_time(instance: object) -> bool:
    return not isinstance(instance, str) or is_rfc3339(instance)


def _integer_checker(name: str):
    low, high = INTEGER_RANGES[name]

    def check(instance: object) -> bool:
        # Google sends 64-bit integers as decimal strings; OpenAPI sends them as JSON numbers.
        if isinstance(instance, bool):
            return True
        if isinstance(instance, str):
            return bool(DECIMAL.match(instance)) and low <= int(instance) <= high
        if isinstance(instance, int):
            return low <= instance <= high
        return True

    return check


def _check_byte(instance: object) -> bool:
    # Gmail's `byte` fields (Message.raw, MessagePartBody.data) are base64url, per their text.
    if not isinstance(instance, str):
        return True
    if not BASE64URL.match(instance):
        return False
    try:
        base64.urlsafe_b64decode(instance + "=" * (-len(instance) % 4))
    except (binascii.Error, ValueError):
        return False
    return True


def strict_format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checks("date-time")(_check_date_time)
    checker.checks("google-datetime")(_check_date_time)
    for name in INTEGER_RANGES:
        checker.checks(name)(_integer_checker(name))
    checker.checks("byte")(_check_byte)
    return checker
