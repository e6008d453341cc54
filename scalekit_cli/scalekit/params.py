"""The one checker of a tool's parameters against its input schema, on `jsonschema`.

`sk exec-tool`, `sk mcp serve` and the sandbox's execute_tool share it, so a typo reads the
same everywhere: one line naming the field (`params.max_results: expected integer, got
string`). The schema's own `$schema` picks the draft; Draft 2020-12 when it names none.
Formats are checked only where their meaning needs no guess (see `_FORMATS`).

jsonschema is imported when a check runs, never at import time: only exec-tool, the MCP
server and the sandbox pay for it.

A schema that is not valid JSON Schema, or that refers to what it does not hold, is not
checked at all: this check may only ever reject what the server would reject too.
`unknown_properties=True` (what exec-tool asks for) closes every object schema on the path of
`properties` / `items` that names its fields and does not set `additionalProperties`: the
live service drops unknown fields silently, so a misspelt name would be a silent bug.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

_PLAIN_NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}")

# Formats whose check is exact and needs no optional package (jsonschema checks `date-time`,
# `uri`, … only when further packages are installed, so those would pass or fail by install).
_FORMATS = ("date", "ipv4", "ipv6", "uuid")


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, as a user would say it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def first_error(
    schema: Any, value: Any, where: str = "params", *, unknown_properties: bool = False
) -> str | None:
    """The first way `value` breaks `schema`, as `params.max_results: expected integer, got
    string`; None when it fits, or when the schema is not one jsonschema can apply."""
    if not isinstance(schema, dict):
        return None
    from referencing.exceptions import Unresolvable

    try:
        key = json.dumps(schema)  # keeps keyword order: it decides which error is first
    except (TypeError, ValueError):  # not a JSON document: nothing to check against
        return None
    validator = _validator(key, unknown_properties)
    if validator is None:
        return None
    try:
        errors = list(validator.iter_errors(value))
    except Unresolvable:
        return None
    if not errors:
        return None
    # A missing field is told last: `{"chanel": …}` reads better as a typo than as a missing
    # channel. Otherwise jsonschema's order: the value's fields as the schema walks them.
    errors.sort(key=lambda error: error.validator == "required")
    error = _innermost(errors[0])
    return _describe(error, where)


@functools.lru_cache(maxsize=256)
def _validator(schema_text: str, unknown_properties: bool) -> Any:
    """The validator for one schema, or None when jsonschema cannot apply it. Cached by the
    schema's text: checking a schema against its meta-schema costs milliseconds, and the
    sandbox and the MCP server check the same few tool schemas call after call."""
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    schema = json.loads(schema_text)
    if unknown_properties:
        schema = _closed(schema)
    validator_class = validator_for(schema, default=Draft202012Validator)
    try:
        validator_class.check_schema(schema)
    except SchemaError:
        return None
    return validator_class(schema, format_checker=FormatChecker(formats=_FORMATS))


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its named-field objects closed to other names (see the module doc)."""
    copy = dict(schema)
    properties = copy.get("properties")
    if isinstance(properties, dict):
        copy["properties"] = {
            name: _closed(item) if isinstance(item, dict) else item
            for name, item in properties.items()
        }
        if "additionalProperties" not in copy and "patternProperties" not in copy:
            copy["additionalProperties"] = False
    for key in ("items", "additionalProperties"):
        if isinstance(copy.get(key), dict):
            copy[key] = _closed(copy[key])
    return copy


def _innermost(error: ValidationError) -> ValidationError:
    """For an `anyOf` / `oneOf` failure, the one branch's error when there is one branch, or
    the deepest when one branch went into the value further than the others; else the
    combined error itself (jsonschema's words)."""
    if not error.context:
        return error
    branches = {sub.schema_path[0] for sub in error.context}
    if len(branches) == 1:
        return _innermost(error.context[0])
    deepest = max(error.context, key=lambda sub: len(sub.relative_path))
    return _innermost(deepest) if len(deepest.relative_path) > 0 else error


def _describe(error: ValidationError, where: str) -> str:
    field = where
    for part in error.absolute_path:
        field = f"{field}[{part}]" if isinstance(part, int) else _field(field, str(part))
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "required":
        missing = next((n for n in expected if isinstance(value, dict) and n not in value), "")
        return f"{_field(field, str(missing))}: required, but missing"
    if kind in ("additionalProperties", "unevaluatedProperties"):
        extra = next(_extra_names(error.schema, value), "")
        properties = error.schema.get("properties") or {}
        return (
            f"{_field(field, extra)}: not a parameter of this tool; {_suggest(extra, properties)}"
        )
    if kind in ("minimum", "maximum") and error.schema.get(f"exclusive{kind.title()}") is True:
        kind = f"exclusive{kind.title()}"  # draft 4: a boolean beside the bound
    if _secret(error):
        # These errors reach exec-tool's stderr, MCP tool errors and the sandbox's answers:
        # a credential's value is told by its type and length only.
        return f"{field}: {_problem(str(kind), expected, _Withheld(value), '')}"
    return f"{field}: {_problem(str(kind), expected, value, error.message)}"


def _secret(error: ValidationError) -> bool:
    """Whether the failing value is a credential: under a secret-looking name (the names sk's
    outputs share), or in a schema that says so (`writeOnly`, `format: password`)."""
    from .secrets import is_secret_name

    if any(isinstance(part, str) and is_secret_name(part) for part in error.absolute_path):
        return True
    schema = error.schema if isinstance(error.schema, dict) else {}
    return schema.get("writeOnly") is True or schema.get("format") == "password"


class _Withheld:
    """A secret value in an error: shown as its type and length, never as itself."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        kind = json_type(self.value)
        article = "an" if kind[:1] in "aeiou" else "a"
        if isinstance(self.value, str | list | dict):
            return f"{article} {kind} of length {len(self.value)} (not shown: it looks secret)"
        return f"{article} {kind} (not shown: it looks secret)"


def _extra_names(schema: dict[str, Any], value: Any) -> Iterator[str]:
    """The names in `value` that neither `properties` nor `patternProperties` take."""
    if not isinstance(value, dict):
        return
    named = schema.get("properties") or {}
    patterns = list(schema.get("patternProperties") or {})
    for name in value:
        if name not in named and not any(re.search(pattern, name) for pattern in patterns):
            yield name


def _problem(kind: str, expected: Any, value: Any, message: str) -> str:
    """The words after `field: ` for one failed keyword."""
    if kind == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        if isinstance(value, _Withheld):
            value = value.value  # only its type is told
        return f"expected {' or '.join(names)}, got {json_type(value)}"
    if kind == "enum":
        choices = ", ".join(_show(choice) for choice in expected)
        return f"expected one of {choices}, got {_show(value)}"
    if kind == "const":
        return f"expected {_show(expected)}, got {_show(value)}"
    bounds = {
        "minimum": "must be at least",
        "maximum": "must be at most",
        "exclusiveMinimum": "must be greater than",
        "exclusiveMaximum": "must be less than",
    }
    if kind in bounds:
        shown = value if isinstance(value, _Withheld) else f"{value:g}"
        return f"{bounds[kind]} {expected:g}, got {shown}"
    if kind == "minLength" and expected == 1:
        return "must not be empty"
    counts = {
        "minLength": ("needs at least", "character", len),
        "maxLength": ("takes at most", "character", len),
        "minItems": ("needs at least", "item", len),
        "maxItems": ("takes at most", "item", len),
    }
    if kind in counts:
        words, unit, size = counts[kind]
        if isinstance(value, _Withheld):
            value = value.value  # its length is what this error tells
        return f"{words} {_count(expected, unit)}, got {size(value)}"
    if kind == "pattern":
        return f"must match {_show(expected)}, got {_show(value)}"
    if kind == "format":
        return f"expected a {expected}, got {_show(value)}"
    if isinstance(value, _Withheld):
        return f"breaks the schema's {kind!r} rule, got {value}"  # its words quote the value
    # Any other keyword: jsonschema's own words, on one short line.
    text = " ".join(message.split())
    return text if len(text) <= 120 else text[:119] + "…"


def _show(value: Any) -> str:
    if isinstance(value, _Withheld):
        return str(value)
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 40 else text[:37] + "…"


def _count(number: float, unit: str) -> str:
    return f"{number:g} {unit}" + ("" if number == 1 else "s")


def _field(where: str, name: str) -> str:
    """`params.max_results` for a plain name; any other name (the user's typo may hold line
    breaks, escapes or ten thousand characters) quoted as JSON, ASCII-only and shortened, so
    the error stays one short line."""
    if _PLAIN_NAME.fullmatch(name):
        return f"{where}.{name}"
    shown = json.dumps(name)
    if len(shown) > 42:
        shown = shown[:40] + '…"'
    return f"{where}[{shown}]"


def _suggest(name: str, properties: dict[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(properties), n=1)
    if close:
        return f"did you mean {close[0]}?"
    return f"it takes: {', '.join(sorted(properties))}" if properties else "it takes none"
