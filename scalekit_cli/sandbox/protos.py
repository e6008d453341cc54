"""The service's request messages, as the sandbox's faces read and judge them.

Messages are built from the descriptor set the project ships (google.protobuf's
DescriptorPool and message factory), so the official SDK need not be installed. The REST
face parses a JSON body with protobuf's own `json_format` (unknown fields dropped, as the
gateway drops them) and maps query parameters onto fields as grpc-gateway does; the gRPC
face receives the message itself. Either way `protovalidate` judges it against the
`buf.validate` rules those descriptors carry, and the operations layer gets the message back
as a dict in the proto JSON mapping.

Which RPCs exist, their messages, HTTP bindings and success statuses come from
`contract/routes.json`, which `make contract` derives from the same descriptors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from .contract import CONTRACT_DIR

if TYPE_CHECKING:
    from google.protobuf.descriptor import FieldDescriptor
    from google.protobuf.descriptor_pool import DescriptorPool
    from google.protobuf.message import Message

ROUTE_TABLE_PATH = CONTRACT_DIR / "routes.json"

# Well-known messages a query parameter can fill, as grpc-gateway does: one value each.
_SCALAR_MESSAGES = {
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
    *(
        f"google.protobuf.{kind}Value"
        for kind in ("Bool", "String", "Bytes", "Int32", "UInt32", "Int64", "UInt64")
    ),
    "google.protobuf.DoubleValue",
    "google.protobuf.FloatValue",
}
# grpc-gateway reads query booleans with Go's strconv.ParseBool.
_QUERY_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


@dataclass(frozen=True)
class FieldViolation:
    """One broken rule: protovalidate's field path (`filter.query`, `connection_names[0]`;
    empty for a message-level rule), rule id (`string.max_len`) and message."""

    field: str
    rule_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class RequestInvalid(ValueError):
    """A request that does not parse as its message, or breaks its field rules."""

    def __init__(self, violations: list[FieldViolation]) -> None:
        super().__init__("; ".join(str(v) for v in violations))
        self.violations = violations


@cache
def route_table() -> dict[str, dict[str, Any]]:
    """RPC name -> {"request", "response", "http": [{method, path, body, documented}],
    "status"?}."""
    rpcs: dict[str, dict[str, Any]] = json.loads(ROUTE_TABLE_PATH.read_text(encoding="utf-8"))[
        "rpcs"
    ]
    return rpcs


@cache
def descriptor_pool() -> DescriptorPool:
    from google.protobuf import descriptor_pb2
    from google.protobuf import descriptor_pool as pools

    from .contract import descriptor_set_bytes

    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set_bytes())
    pool = pools.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    return pool


@cache
def message_class(full_name: str) -> type[Message]:
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(descriptor_pool().FindMessageTypeByName(full_name))


def from_json(message_name: str, payload: Any) -> Message:
    """`payload` (the proto JSON mapping) parsed as `message_name`; RequestInvalid when it
    does not parse (a wrong type, two members of a oneof)."""
    from google.protobuf import json_format

    if not isinstance(payload, dict):
        raise RequestInvalid([FieldViolation("", "type", "the request must be a JSON object")])
    descriptor = descriptor_pool().FindMessageTypeByName(message_name)
    _require_objects(descriptor, payload, "")
    try:
        return json_format.ParseDict(
            payload, message_class(message_name)(), ignore_unknown_fields=True
        )
    except json_format.ParseError as error:
        raise RequestInvalid([FieldViolation("", "type", str(error))]) from None


def _require_objects(descriptor: Any, payload: dict[str, Any], path: str) -> None:
    """Refuse a JSON value that is no object where the message wants a message or a map.
    Our own because protobuf's Python `json_format` iterates whatever it is given there (an
    array or a string passes as a message with no field set), where the gateway's protojson
    refuses it."""
    for key, value in payload.items():
        field = descriptor.fields_by_name.get(key) or descriptor.fields_by_camelcase_name.get(key)
        if field is None or value is None or field.message_type is None:
            continue
        if field.message_type.full_name.startswith("google.protobuf."):
            continue  # the well-known types have JSON shapes of their own
        where = f"{path}.{field.name}" if path else field.name
        is_map = field.message_type.GetOptions().map_entry
        items = value if field.is_repeated and not is_map and isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, dict):
                message = f"invalid value for message field: {json.dumps(item)[:40]}"
                raise RequestInvalid([FieldViolation(where, "type", message)])
            if not is_map:
                _require_objects(field.message_type, item, where)


def query_payload(message_name: str, items: list[tuple[str, str]]) -> dict[str, Any]:
    """Query parameters as grpc-gateway maps them onto `message_name`: dotted names into
    nested messages, repeated parameters into lists; unknown names are ignored. Scalars stay
    strings for `json_format` to parse, but for booleans (ParseBool) and enum numbers."""
    descriptor = descriptor_pool().FindMessageTypeByName(message_name)
    out: dict[str, Any] = {}
    for name, raw in items:
        current, target = descriptor, out
        parts = name.split(".")
        field: FieldDescriptor | None = None
        for index, part in enumerate(parts):
            field = current.fields_by_name.get(part)
            if field is None:
                break
            if index < len(parts) - 1:
                if not _is_message(field) or field.is_repeated:
                    field = None
                    break
                current = field.message_type
                target = target.setdefault(part, {})
        if field is None or _is_message(field):
            continue  # not a scalar field: grpc-gateway ignores it too
        value = _query_value(field, raw, name)
        if field.is_repeated:
            target.setdefault(parts[-1], []).append(value)
        else:
            target[parts[-1]] = value
    return out


def _is_message(field: FieldDescriptor) -> bool:
    message = field.message_type
    return message is not None and message.full_name not in _SCALAR_MESSAGES


def _query_value(field: FieldDescriptor, raw: str, path: str) -> Any:
    from google.protobuf.descriptor import FieldDescriptor as Field

    message = field.message_type
    boolean = field.type == Field.TYPE_BOOL or (
        message is not None and message.full_name == "google.protobuf.BoolValue"
    )
    if boolean:
        if raw not in _QUERY_BOOLS:
            message = f"invalid value for bool field: {json.dumps(raw)}"
            raise RequestInvalid([FieldViolation(path, "type", message)])
        return _QUERY_BOOLS[raw]
    if field.type == Field.TYPE_ENUM and raw.isdigit():
        return int(raw)
    return raw


def violations(message: Message) -> list[FieldViolation]:
    """The `buf.validate` rules `message` breaks, as protovalidate words them."""
    import protovalidate

    return [
        FieldViolation(_field_path(v.proto), v.proto.rule_id, v.proto.message)
        for v in protovalidate.collect_violations(message)
    ]


def _field_path(violation: Any) -> str:
    """protovalidate's field path as text: `filter.tool_name[0]`, `metadata["key"]`."""
    parts: list[str] = []
    for element in violation.field.elements if violation.field else ():
        part = element.field_name
        subscript = element.subscript
        if subscript is not None and subscript.field == "string_key":
            part += f"[{json.dumps(subscript.value)}]"
        elif subscript is not None:
            part += f"[{subscript.value}]"
        parts.append(part)
    return ".".join(parts)


def to_payload(message: Message) -> dict[str, Any]:
    """The message in the proto JSON mapping with proto field names (what handlers read)."""
    from google.protobuf import json_format

    payload: dict[str, Any] = json_numbers(
        json_format.MessageToDict(message, preserving_proto_field_name=True)
    )
    return payload


def json_numbers(value: Any) -> Any:
    """A `Struct` carries every number as a double; the JSON a client sent spells 2 as 2.
    Integral doubles become ints, as Go's protojson (the gateway's) writes them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: json_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_numbers(item) for item in value]
    return value
