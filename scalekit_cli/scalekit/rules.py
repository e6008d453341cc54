"""The service's field rules, checked without protobuf: the rule table and its checker.

Scalekit's gRPC services check every request message against its `buf.validate` rules
before any handler runs; the REST gateway answers a breach 400, code 3. The rules travel in
the official SDK's descriptors; `make contract` (scripts/contract.py) derives
`field_rules.json` beside this module from the descriptor set the project ships, so no rule
is typed by hand. The sandbox refuses what they refuse, and `sk` checks a request before it
sends it — both through this module, which imports only the standard library and reads the
table on first use (`sk token`'s start-up never pays for it).

A payload is a request in the proto JSON mapping with proto field names (the gateway's
shape). `conform(message, payload)` parses it as protojson would (types, enum names,
numbers as strings, unknown fields dropped, the camelCase names accepted) and then applies
the rules as protovalidate does: a field with presence that is unset is skipped, one without
presence is checked at its zero value, `required` failing hides that field's other rules,
nested messages are checked too. Violations carry protovalidate's field path, rule id and
wording (`identifier: must be at most 100 characters`);
tests/sandbox/test_field_rules.py holds the two to the same verdicts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

RULE_TABLE_PATH = Path(__file__).resolve().parent / "field_rules.json"

_INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "sint32": (-(2**31), 2**31 - 1),
    "sfixed32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "fixed32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "sint64": (-(2**63), 2**63 - 1),
    "sfixed64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
    "fixed64": (0, 2**64 - 1),
}
_FLOAT_KINDS = ("double", "float")
# grpc-gateway parses query booleans with Go's strconv.ParseBool.
_QUERY_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}
# Compiled on first use (re caches them): `sk token`'s start-up never pays for them.
_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
_DURATION = r"^-?\d+(\.\d{1,9})?s$"


@dataclass(frozen=True)
class Violation:
    """One broken rule: protovalidate's field path (`filter.query`, `connection_names[0]`;
    empty for a message-level rule), rule id (`string.max_len`) and message."""

    field: str
    rule_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class RuleViolations(ValueError):
    """A request the service's field rules refuse."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(str(v) for v in violations))
        self.violations = violations


@dataclass(frozen=True)
class RuleTable:
    source: str
    rpcs: dict[str, dict[str, Any]]
    messages: dict[str, dict[str, Any]]
    enums: dict[str, list[str]]

    def request_message(self, rpc: str) -> str:
        return self.rpcs[rpc]["request"]

    def field(self, message: str, name: str) -> dict[str, Any]:
        return self.messages[message]["fields"][name]


@cache
def table() -> RuleTable:
    data = json.loads(RULE_TABLE_PATH.read_text(encoding="utf-8"))
    return RuleTable(data["source"], data["rpcs"], data["messages"], data["enums"])


def check_request(rpc: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The request of `rpc` parsed and checked; raises RuleViolations on any breach."""
    return conform_or_raise(table().request_message(rpc), payload)


def conform_or_raise(message: str, payload: Any) -> dict[str, Any]:
    normalized, violations = conform(message, payload)
    if violations:
        raise RuleViolations(violations)
    return normalized


def conform(message: str, payload: Any) -> tuple[dict[str, Any], list[Violation]]:
    """(the payload as the service reads it, the rules it breaks). A payload that does not
    parse (a type error) is refused before any rule runs, as protojson fails first."""
    rules = table()
    errors: list[Violation] = []
    normalized = _parse_message(rules, message, payload, "", errors)
    if errors:
        return {}, errors[:1]
    violations: list[Violation] = []
    _validate_message(rules, message, normalized, "", violations)
    return normalized, violations


def field_violations(message: str, name: str, value: Any) -> list[Violation]:
    """The rules one field's value breaks on its own (no message-level rules): for checks
    of one input before a request is assembled."""
    rules = table()
    spec = rules.field(message, name)
    errors: list[Violation] = []
    parsed = _parse_value(rules, spec, value, name, errors)
    if errors:
        return errors[:1]
    violations: list[Violation] = []
    _validate_field(rules, spec, True, parsed, name, violations)
    return violations


def largest_allowed(rpc: str, name: str) -> int:
    """The largest integer the rules allow in field `name` of `rpc`'s request (a page size)."""
    spec = table().field(table().request_message(rpc), name)
    bounds = spec.get("rules", {}).get("number", {})
    if "lt" in bounds:
        return int(bounds["lt"]) - 1
    if "lte" in bounds:
        return int(bounds["lte"])
    return _INT_RANGES[spec["kind"]][1]


# --- parsing (the proto JSON mapping) --------------------------------------------------------


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _parse_message(
    rules: RuleTable, message: str, value: Any, path: str, errors: list[Violation]
) -> dict[str, Any]:
    if not isinstance(value, dict):
        errors.append(_type_error("message", path or message, value))
        return {}
    fields = rules.messages[message]["fields"]
    by_json = {_camel(name): name for name in fields}
    out: dict[str, Any] = {}
    oneofs: dict[str, str] = {}
    for key, raw in value.items():
        name = key if key in fields else by_json.get(key)
        if name is None or raw is None:
            continue  # unknown fields are dropped; null means unset
        if name in out:
            errors.append(Violation(_join(path, name), "type", f"field {name} given twice"))
            continue
        group = fields[name].get("oneof")
        if group is not None:
            # protojson refuses a second member of a oneof before any rule runs.
            if group in oneofs:
                errors.append(
                    Violation(
                        _join(path, name),
                        "oneof",
                        f"oneof {group} is already set (by {oneofs[group]})",
                    )
                )
                continue
            oneofs[group] = name
        out[name] = _parse_value(rules, fields[name], raw, _join(path, name), errors)
    return out


def _parse_value(
    rules: RuleTable, spec: dict[str, Any], value: Any, path: str, errors: list[Violation]
) -> Any:
    if spec["kind"] == "map":
        if not isinstance(value, dict):
            errors.append(_type_error("map", path, value))
            return {}
        return {
            _parse_map_key(spec["key"], key, f"{path}[{key!r}]", errors): _parse_single(
                rules, spec["value"], item, f"{path}[{key!r}]", errors
            )
            for key, item in value.items()
        }
    if spec.get("repeated"):
        if not isinstance(value, list):
            errors.append(_type_error("list", path, value))
            return []
        return [
            _parse_single(rules, spec, item, f"{path}[{index}]", errors)
            for index, item in enumerate(value)
        ]
    return _parse_single(rules, spec, value, path, errors)


def _parse_map_key(spec: dict[str, Any], key: str, path: str, errors: list[Violation]) -> Any:
    if spec["kind"] in _INT_RANGES:
        return _parse_single(table(), spec, key, path, errors)
    if spec["kind"] == "bool":
        if key not in ("true", "false"):
            errors.append(_type_error("bool", path, key))
        return key == "true"
    return key


def _parse_single(
    rules: RuleTable, spec: dict[str, Any], value: Any, path: str, errors: list[Violation]
) -> Any:
    kind = spec["kind"]
    if kind == "message":
        return _parse_message(rules, spec["message"], value, path, errors)
    if kind in ("string", "bytes", "field_mask"):
        if isinstance(value, str):
            return value
    elif kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind in _INT_RANGES:
        number = _integer(value)
        low, high = _INT_RANGES[kind]
        if number is not None and low <= number <= high:
            return number
    elif kind in _FLOAT_KINDS:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif kind == "enum":
        names = rules.enums[spec["enum"]]
        if isinstance(value, str) and value in names:
            return value
        number = _integer(value) if not isinstance(value, str) else None
        if number is not None and 0 <= number < len(names):
            return names[number]
    elif kind == "struct":
        if isinstance(value, dict):
            return value
    elif kind == "list_value":
        if isinstance(value, list):
            return value
    elif kind == "value":
        return value
    elif kind == "timestamp":
        if isinstance(value, str) and re.match(_TIMESTAMP, value):
            return value
    elif kind == "duration" and isinstance(value, str) and re.match(_DURATION, value):
        return value
    errors.append(_type_error(kind, path, value))
    return None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return None


def _type_error(kind: str, path: str, value: Any) -> Violation:
    shown = json.dumps(value, ensure_ascii=False)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return Violation(path, "type", f"invalid value for {kind} field: {shown}")


def from_query(message: str, items: list[tuple[str, str]]) -> dict[str, Any]:
    """Query parameters as grpc-gateway maps them onto `message`: dotted names into nested
    messages, repeated parameters into lists, each value parsed by its field's type. Unknown
    names are ignored. Raises RuleViolations when a value does not parse."""
    rules = table()
    out: dict[str, Any] = {}
    errors: list[Violation] = []
    for name, raw in items:
        current, target, spec = message, out, None
        parts = name.split(".")
        for index, part in enumerate(parts):
            fields = rules.messages[current]["fields"]
            spec = fields.get(part)
            if spec is None:
                break
            if index < len(parts) - 1:
                if spec["kind"] != "message" or spec.get("repeated"):
                    spec = None
                    break
                current = spec["message"]
                target = target.setdefault(part, {})
        if spec is None or spec["kind"] in ("message", "map", "struct", "list_value"):
            continue
        leaf = parts[-1]
        value = _parse_query_value(rules, spec, raw, name, errors)
        if spec.get("repeated"):
            target.setdefault(leaf, []).append(value)
        else:
            target[leaf] = value
    if errors:
        raise RuleViolations(errors[:1])
    return out


def _parse_query_value(
    rules: RuleTable, spec: dict[str, Any], raw: str, path: str, errors: list[Violation]
) -> Any:
    kind = spec["kind"]
    if kind == "bool":
        if raw in _QUERY_BOOLS:
            return _QUERY_BOOLS[raw]
        errors.append(_type_error("bool", path, raw))
        return None
    if kind == "enum" and re.fullmatch(r"\d+", raw):
        return _parse_single(rules, spec, int(raw), path, errors)
    return _parse_single(rules, spec, raw, path, errors)


# --- validation (buf.validate, as protovalidate applies it) ----------------------------------


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _zero(spec: dict[str, Any]) -> Any:
    if spec["kind"] == "map":
        return {}
    if spec.get("repeated"):
        return []
    kind = spec["kind"]
    if kind in ("string", "bytes"):
        return ""
    if kind == "bool":
        return False
    if kind in _INT_RANGES:
        return 0
    if kind in _FLOAT_KINDS:
        return 0.0
    return None


def _validate_message(
    rules: RuleTable, message: str, value: dict[str, Any], path: str, out: list[Violation]
) -> None:
    entry = rules.messages[message]
    for name, spec in entry["fields"].items():
        present = name in value
        _validate_field(rules, spec, present, value.get(name), _join(path, name), out)
    for group in entry.get("required_oneofs", ()):
        if not any(name in value for name in group):
            out.append(Violation(path, "required", "exactly one field is required in oneof"))
    for rule in entry.get("cel", ()):
        if not _Cel(rule["expression"], entry["fields"], value).evaluate():
            out.append(Violation(path, rule["id"], rule["message"]))


def _validate_field(
    rules: RuleTable,
    spec: dict[str, Any],
    present: bool,
    value: Any,
    path: str,
    out: list[Violation],
) -> None:
    field_rules = spec.get("rules", {})
    is_list = spec.get("repeated") or spec["kind"] == "map"
    if not present:
        value = _zero(spec)
    populated = (
        bool(value) if is_list else (present if spec.get("presence") else value != _zero(spec))
    )
    if spec["kind"] == "message" and not is_list:
        populated = present
    if field_rules.get("required") and not populated:
        out.append(Violation(path, "required", "value is required"))
        return
    if spec.get("presence") and not present:
        return  # an unset field with presence is not checked
    if spec["kind"] == "map":
        _check_map(rules, spec, value, path, out)
        return
    if spec.get("repeated"):
        repeated = field_rules.get("repeated", {})
        _check_count(
            "repeated", len(value), repeated, "min_items", "max_items", "item(s)", path, out
        )
        for index, item in enumerate(value):
            _check_single(rules, spec, repeated.get("items", {}), item, f"{path}[{index}]", out)
        return
    _check_single(rules, spec, field_rules, value, path, out)


def _check_map(
    rules: RuleTable, spec: dict[str, Any], value: dict[Any, Any], path: str, out: list[Violation]
) -> None:
    map_rules = spec.get("rules", {}).get("map", {})
    size = len(value)
    if "min_pairs" in map_rules and size < map_rules["min_pairs"]:
        out.append(
            Violation(
                path, "map.min_pairs", f"map must be at least {map_rules['min_pairs']} entries"
            )
        )
    if "max_pairs" in map_rules and size > map_rules["max_pairs"]:
        out.append(
            Violation(
                path, "map.max_pairs", f"map must be at most {map_rules['max_pairs']} entries"
            )
        )
    for key, item in value.items():
        where = f"{path}[{json.dumps(key) if isinstance(key, str) else key}]"
        _check_single(rules, spec["key"], map_rules.get("keys", {}), key, where, out)
        _check_single(rules, spec["value"], map_rules.get("values", {}), item, where, out)


def _check_count(
    family: str,
    count: int,
    rules: dict[str, Any],
    low: str,
    high: str,
    unit: str,
    path: str,
    out: list[Violation],
) -> None:
    if low in rules and count < rules[low]:
        out.append(Violation(path, f"{family}.{low}", f"must contain at least {rules[low]} {unit}"))
    if high in rules and count > rules[high]:
        out.append(
            Violation(path, f"{family}.{high}", f"must contain no more than {rules[high]} {unit}")
        )


def _check_single(
    rules: RuleTable,
    spec: dict[str, Any],
    field_rules: dict[str, Any],
    value: Any,
    path: str,
    out: list[Violation],
) -> None:
    kind = spec["kind"]
    if kind == "message":
        if isinstance(value, dict):
            _validate_message(rules, spec["message"], value, path, out)
        return
    if "string" in field_rules and isinstance(value, str):
        _check_string(field_rules["string"], value, path, out)
    if "number" in field_rules and isinstance(value, (int, float)):
        _check_number(kind, field_rules["number"], value, path, out)
    if "enum" in field_rules:
        _check_enum(rules, spec, field_rules["enum"], value, path, out)


def _check_string(rules: dict[str, Any], value: str, path: str, out: list[Violation]) -> None:
    length = len(value)

    def fail(rule: str, message: str) -> None:
        out.append(Violation(path, f"string.{rule}", message))

    if "const" in rules and value != rules["const"]:
        fail("const", f"must equal `{rules['const']}`")
    if "len" in rules and length != rules["len"]:
        fail("len", f"must be {rules['len']} characters")
    if "min_len" in rules and length < rules["min_len"]:
        fail("min_len", f"must be at least {rules['min_len']} characters")
    if "max_len" in rules and length > rules["max_len"]:
        fail("max_len", f"must be at most {rules['max_len']} characters")
    if "pattern" in rules and re.search(rules["pattern"], value) is None:
        fail("pattern", f"does not match regex pattern `{rules['pattern']}`")
    if "prefix" in rules and not value.startswith(rules["prefix"]):
        fail("prefix", f"does not have prefix `{rules['prefix']}`")
    if "suffix" in rules and not value.endswith(rules["suffix"]):
        fail("suffix", f"does not have suffix `{rules['suffix']}`")
    if "contains" in rules and rules["contains"] not in value:
        fail("contains", f"does not contain substring `{rules['contains']}`")
    if "in" in rules and value not in rules["in"]:
        fail("in", f"must be in list [{', '.join(rules['in'])}]")
    if "not_in" in rules and value in rules["not_in"]:
        fail("not_in", f"must not be in list [{', '.join(rules['not_in'])}]")


def _shown(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _check_number(
    kind: str, rules: dict[str, Any], value: float, path: str, out: list[Violation]
) -> None:
    if "const" in rules and value != rules["const"]:
        out.append(Violation(path, f"{kind}.const", f"must equal {_shown(rules['const'])}"))
    lower = (
        ("gt", rules["gt"]) if "gt" in rules else ("gte", rules["gte"]) if "gte" in rules else None
    )
    upper = (
        ("lt", rules["lt"]) if "lt" in rules else ("lte", rules["lte"]) if "lte" in rules else None
    )

    def above(bound: tuple[str, float]) -> bool:
        return value > bound[1] if bound[0] == "gt" else value >= bound[1]

    def below(bound: tuple[str, float]) -> bool:
        return value < bound[1] if bound[0] == "lt" else value <= bound[1]

    words = {
        "gt": "greater than",
        "gte": "greater than or equal to",
        "lt": "less than",
        "lte": "less than or equal to",
    }
    if lower and upper:
        exclusive = upper[1] < lower[1]
        ok = (above(lower) or below(upper)) if exclusive else (above(lower) and below(upper))
        if not ok:
            joiner = "or" if exclusive else "and"
            suffix = "_exclusive" if exclusive else ""
            out.append(
                Violation(
                    path,
                    f"{kind}.{lower[0]}_{upper[0]}{suffix}",
                    f"must be {words[lower[0]]} {_shown(lower[1])} {joiner} "
                    f"{words[upper[0]]} {_shown(upper[1])}",
                )
            )
    elif lower and not above(lower):
        out.append(
            Violation(path, f"{kind}.{lower[0]}", f"must be {words[lower[0]]} {_shown(lower[1])}")
        )
    elif upper and not below(upper):
        out.append(
            Violation(path, f"{kind}.{upper[0]}", f"must be {words[upper[0]]} {_shown(upper[1])}")
        )
    if "in" in rules and value not in rules["in"]:
        listed = ", ".join(_shown(n) for n in rules["in"])
        out.append(Violation(path, f"{kind}.in", f"must be in list [{listed}]"))
    if "not_in" in rules and value in rules["not_in"]:
        listed = ", ".join(_shown(n) for n in rules["not_in"])
        out.append(Violation(path, f"{kind}.not_in", f"must not be in list [{listed}]"))


def _check_enum(
    rules: RuleTable,
    spec: dict[str, Any],
    enum_rules: dict[str, Any],
    value: Any,
    path: str,
    out: list[Violation],
) -> None:
    names = rules.enums[spec["enum"]]
    number = names.index(value) if value in names else (value or 0)
    if enum_rules.get("defined_only") and value not in names and value is not None:
        out.append(
            Violation(path, "enum.defined_only", "value must be one of the defined enum values")
        )
    if "const" in enum_rules and number != enum_rules["const"]:
        out.append(Violation(path, "enum.const", f"must equal {enum_rules['const']}"))
    if "in" in enum_rules and number not in enum_rules["in"]:
        listed = ", ".join(str(n) for n in enum_rules["in"])
        out.append(Violation(path, "enum.in", f"must be in list [{listed}]"))
    if "not_in" in enum_rules and number in enum_rules["not_in"]:
        listed = ", ".join(str(n) for n in enum_rules["not_in"])
        out.append(Violation(path, "enum.not_in", f"must not be in list [{listed}]"))


# --- the CEL the message rules use --------------------------------------------------------------

_CEL_TOKEN = (
    r"\s*(?:(?P<op>&&|\|\||==|!=|>=|<=|[!()<>.])|(?P<int>\d+)|(?P<str>'(?:[^'\\]|\\.)*')"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*))"
)


class CelUnsupported(ValueError):
    """An expression outside the small CEL subset the message rules use."""


class _Cel:
    """The subset of CEL that the AgentKit messages' rules are written in: `this.field`,
    `has(this.field)`, `.size()`, `!`, `&&`, `||`, comparisons, integer and string literals.
    scripts/contract.py parses every rule with it, so a rule outside the subset fails the
    build of the table rather than being skipped."""

    def __init__(self, expression: str, fields: dict[str, Any], value: dict[str, Any]) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        expression = expression.strip()
        while position < len(expression):
            match = re.compile(_CEL_TOKEN).match(expression, position)
            if match is None or match.end() == position:
                raise CelUnsupported(f"cannot read {expression[position:]!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
            while position < len(expression) and expression[position].isspace():
                position += 1
        self.index = 0
        self.fields = fields
        self.value = value

    def evaluate(self) -> bool:
        result = self._or()
        if self.index != len(self.tokens):
            raise CelUnsupported(f"unexpected {self.tokens[self.index][1]!r}")
        return bool(result)

    def _peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.index >= len(self.tokens):
            raise CelUnsupported("unexpected end of expression")
        token = self.tokens[self.index]
        if expected is not None and token[1] != expected:
            raise CelUnsupported(f"expected {expected!r}, found {token[1]!r}")
        self.index += 1
        return token

    def _or(self) -> Any:
        left = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            left = bool(left) or bool(right)
        return left

    def _and(self) -> Any:
        left = self._comparison()
        while self._peek() == "&&":
            self._take()
            right = self._comparison()
            left = bool(left) and bool(right)
        return left

    def _comparison(self) -> Any:
        left = self._unary()
        operator = self._peek()
        if operator in ("==", "!=", "<", ">", "<=", ">="):
            self._take()
            right = self._unary()
            return {
                "==": lambda: left == right,
                "!=": lambda: left != right,
                "<": lambda: left < right,
                ">": lambda: left > right,
                "<=": lambda: left <= right,
                ">=": lambda: left >= right,
            }[operator]()
        return left

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not self._unary()
        return self._primary()

    def _primary(self) -> Any:
        kind, text = self._take()
        if text == "(":
            inner = self._or()
            self._take(")")
            return inner
        if kind == "int":
            return int(text)
        if kind == "str":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "name" and text == "has":
            self._take("(")
            name = self._this_field()
            self._take(")")
            return name in self.value
        if kind == "name" and text == "this":
            self.index -= 1
            name = self._this_field()
            value = self.value[name] if name in self.value else _zero(self.fields[name])
            if self._peek() == ".":
                self._take(".")
                _, method = self._take()
                if method != "size":
                    raise CelUnsupported(f"method {method!r}")
                self._take("(")
                self._take(")")
                return len(value or "")
            return value
        raise CelUnsupported(f"unexpected {text!r}")

    def _this_field(self) -> str:
        self._take("this")
        self._take(".")
        _, name = self._take()
        if name not in self.fields:
            raise CelUnsupported(f"unknown field {name!r}")
        return name


def check_cel_supported(expression: str, fields: dict[str, Any]) -> None:
    """Raise CelUnsupported if the checker cannot evaluate `expression` (used by the build)."""
    _Cel(expression, fields, {}).evaluate()
