"""A small checker for the JSON-Schema subset that tool input schemas use.

`sk exec-tool` checks `params` against the tool's input schema before sending, so a typo is
a one-line usage error instead of a server round trip. jsonschema is deliberately not a
runtime dependency (start-up time, dependency discipline), and exec-tool imports this module
only when it has a schema to check against.

Covered: `type` (one name or a list), `enum`, `const`, `properties`, `required`,
`additionalProperties` (false or a schema), `items`, `minimum` / `maximum` /
`exclusiveMinimum` / `exclusiveMaximum`, `minLength` / `maxLength`, `minItems` / `maxItems`.
Anything else (`anyOf`, `$ref`, `pattern`, formats, …) is not checked: this check may only
ever reject what the server would reject too, so what it does not understand it lets through.
The one exception is `unknown_properties=True` (what exec-tool asks for): a field that
`properties` does not name is refused unless `additionalProperties` allows it explicitly —
the live service drops unknown fields silently, so a misspelt name would be a silent bug.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_PLAIN_NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}")

_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    # JSON Schema counts 5.0 as an integer: it is about the number, not the spelling.
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


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


def _show(value: Any) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "…"


def first_error(
    schema: Any, value: Any, where: str = "params", *, unknown_properties: bool = False
) -> str | None:
    """The first way `value` breaks `schema`, as `params.max_results: expected integer, got
    string`; None when it fits (or when the schema is nothing this checker understands).
    With `unknown_properties`, an object's field that its `properties` do not name is an
    error unless `additionalProperties` is `true` or a schema."""
    if not isinstance(schema, dict):
        return None
    problem = _type_error(schema.get("type"), value)
    if problem:
        return f"{where}: {problem}"
    if isinstance(schema.get("enum"), list) and value not in schema["enum"]:
        choices = ", ".join(_show(choice) for choice in schema["enum"])
        return f"{where}: expected one of {choices}, got {_show(value)}"
    if "const" in schema and value != schema["const"]:
        return f"{where}: expected {_show(schema['const'])}, got {_show(value)}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        problem = _range_error(schema, value)
    elif isinstance(value, str):
        problem = _length_error(schema, len(value), "character")
    elif isinstance(value, list):
        problem = _length_error(schema, len(value), "item", prefix="Items")
        if not problem:
            return _items_error(schema.get("items"), value, where, unknown_properties)
    elif isinstance(value, dict):
        return _object_error(schema, value, where, unknown_properties)
    return f"{where}: {problem}" if problem else None


def _type_error(expected: Any, value: Any) -> str | None:
    names = [expected] if isinstance(expected, str) else expected
    if not isinstance(names, list):
        return None
    known = [name for name in names if name in _TYPE_CHECKS]
    # An unknown type name is the server's business, not ours.
    if len(known) != len(names) or any(_TYPE_CHECKS[name](value) for name in known):
        return None
    return f"expected {' or '.join(known)}, got {json_type(value)}"


def _number(schema: dict[str, Any], key: str) -> float | None:
    bound = schema.get(key)
    if isinstance(bound, int | float) and not isinstance(bound, bool):
        return bound
    return None


def _range_error(schema: dict[str, Any], value: float) -> str | None:
    low, high = _number(schema, "minimum"), _number(schema, "maximum")
    above, below = _number(schema, "exclusiveMinimum"), _number(schema, "exclusiveMaximum")
    if low is not None and value < low:
        return f"must be at least {low:g}, got {value:g}"
    if high is not None and value > high:
        return f"must be at most {high:g}, got {value:g}"
    if above is not None and value <= above:
        return f"must be greater than {above:g}, got {value:g}"
    if below is not None and value >= below:
        return f"must be less than {below:g}, got {value:g}"
    return None


def _length_error(
    schema: dict[str, Any], length: int, unit: str, prefix: str = "Length"
) -> str | None:
    # prefix "Length" reads minLength / maxLength, "Items" minItems / maxItems.
    shortest, longest = _number(schema, f"min{prefix}"), _number(schema, f"max{prefix}")
    if shortest is not None and length < shortest:
        if shortest == 1 and unit == "character":
            return "must not be empty"
        return f"needs at least {_count(shortest, unit)}, got {length}"
    if longest is not None and length > longest:
        return f"takes at most {_count(longest, unit)}, got {length}"
    return None


def _count(number: float, unit: str) -> str:
    return f"{number:g} {unit}" + ("" if number == 1 else "s")


def _items_error(items: Any, value: list[Any], where: str, strict: bool) -> str | None:
    if not isinstance(items, dict):
        return None
    for index, item in enumerate(value):
        error = first_error(items, item, f"{where}[{index}]", unknown_properties=strict)
        if error:
            return error
    return None


def _object_error(
    schema: dict[str, Any], value: dict[str, Any], where: str, strict: bool
) -> str | None:
    declared = schema.get("properties")
    properties = declared if isinstance(declared, dict) else {}
    extra = schema.get("additionalProperties")
    # Strict: a schema that names its fields and does not invite others takes no others.
    closed = extra is False or (
        strict and isinstance(declared, dict) and extra is not True and not isinstance(extra, dict)
    )
    for name, item in value.items():
        field = _field(where, name)
        if name in properties:
            error = first_error(properties[name], item, field, unknown_properties=strict)
        elif closed:
            return f"{field}: not a parameter of this tool; {_suggest(name, properties)}"
        else:
            error = first_error(extra, item, field, unknown_properties=strict)
        if error:
            return error
    # Missing fields last: `{"chanel": …}` is better told as a typo than as a missing channel.
    required = schema.get("required")
    for name in required if isinstance(required, list) else []:
        if isinstance(name, str) and name not in value:
            return f"{where}.{name}: required, but missing"
    return None


def _field(where: str, name: str) -> str:
    """`params.max_results` for a plain name; any other name (the user's typo may hold line
    breaks, escapes or ten thousand characters) quoted as JSON, ASCII-only and shortened, so
    the error stays one short line."""
    if _PLAIN_NAME.fullmatch(name):
        return f"{where}.{name}"
    import json

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
