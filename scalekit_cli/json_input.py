"""JSON the user hands sk (`-d`, `--api-config`, `--credentials-stdin`), parsed strictly."""

from __future__ import annotations

import json
from typing import Any


class JsonInputError(ValueError):
    """Why the text is not strict JSON; never quotes the text, which may hold a secret."""


def _refuse_constant(constant: str) -> Any:
    # Python's json takes NaN and Infinity; JSON (and every server) does not, and httpx's
    # encoder refuses them later with an error that reads as a network failure.
    raise JsonInputError(f"{constant} is not a JSON value")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            # Parsers disagree on which duplicate wins: refuse rather than pick one.
            # The key is not named: it could be what the user pasted by mistake.
            raise JsonInputError("an object repeats a key")
        document[key] = value
    return document


def parse_strict(text: str | bytes, *, unique_keys: bool = False) -> Any:
    """The document in `text`; JsonInputError if it is not JSON, holds NaN or Infinity, is
    nested deeper than the parser goes, or (with `unique_keys`) repeats a key."""
    try:
        return json.loads(
            text,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_keys if unique_keys else None,
        )
    except JsonInputError:
        raise
    except RecursionError:
        raise JsonInputError("it is nested too deeply") from None
    except UnicodeDecodeError:
        raise JsonInputError("it is not UTF-8 text") from None
    except ValueError as exc:
        raise JsonInputError(str(exc)) from None
