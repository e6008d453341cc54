"""Number options parsed in sk's own words.

Typer's default conversion words a bad number however the installed Typer does it (pydantic's
"Input should be a valid integer, unable to parse string as an integer" in some releases);
a `parser=` (Typer's public hook) raising typer.BadParameter keeps the one `sk: invalid value
for '-n' / '--limit': …` line in the same words whichever Typer is installed.
"""

from __future__ import annotations

import typer


def integer(value: str | int) -> int:
    """A whole number in decimal (`5`, `-1`, `+3`); anything else is refused by name."""
    if isinstance(value, int):  # a default, already a number
        return value
    text = value.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit():
        raise typer.BadParameter(f"{value!r} is not an integer")
    return int(text)
