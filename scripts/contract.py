"""Refresh the contract the project ships (`make contract`).

The sandbox and the tests read the vendor's documents from `scalekit_cli/sandbox/contract/`,
so a fresh clone needs nothing beside it. This script:

1. copies newer documents from `../shared/` (the directory where new releases of them arrive)
   over the shipped copies, and says what changed: operations and schemas of the OpenAPI
   document, methods and schemas of Gmail's discovery document;
2. with `--descriptors`, rebuilds the descriptor set of the official SDK's proto messages
   (`scalekit-sdk-python`, from the dev extras) that carries the service's `buf.validate`
   field rules;
3. derives the rule table (`scalekit_cli/scalekit/field_rules.json`) from that descriptor set:
   every RPC of the AgentKit services with its request and response message, its HTTP
   binding and (from the OpenAPI document) its success status, and every message a request
   can hold with its fields' types and `buf.validate` rules. The sandbox and the CLI check
   requests against it (`scalekit_cli/scalekit/rules.py`); nobody types a rule by hand.

    python scripts/contract.py [--shared ../shared] [--descriptors] [--check]

`--check` changes nothing and exits 1 when a shipped copy differs from `../shared/` or the
rule table differs from what the descriptor set gives.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
CONTRACT_DIR = REPO_ROOT / "scalekit_cli" / "sandbox" / "contract"

# (file in ../shared, shipped copy)
DOCUMENTS = (
    ("scalekit/agentkit.openapi.json", "agentkit.openapi.json"),
    ("scalekit/CONTRACT.md", "CONTRACT.md"),
    ("gmail/gmail.v1.discovery.json", "gmail.v1.discovery.json"),
)

# The SDK modules whose services AgentKit's REST document maps (connected accounts, tools,
# MCP configurations, custom providers) and the gateway's error details.
SDK_MODULES = (
    "scalekit.v1.connected_accounts.connected_accounts_pb2",
    "scalekit.v1.tools.tools_pb2",
    "scalekit.v1.mcp.mcp_pb2",
    "scalekit.v1.providers.providers_pb2",
    "scalekit.v1.errdetails.errdetails_pb2",
)
SDK_DISTRIBUTION = "scalekit-sdk-python"


def _openapi_summary(doc: dict[str, Any]) -> tuple[set[str], dict[str, str]]:
    operations = {
        f"{method.upper()} {path}"
        for path, item in doc.get("paths", {}).items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch"}
    }
    schemas = doc.get("components", {}).get("schemas", {})
    return operations, {name: _digest(schema) for name, schema in schemas.items()}


def _discovery_summary(doc: dict[str, Any]) -> tuple[set[str], dict[str, str]]:
    methods: set[str] = set()

    def walk(resources: dict[str, Any]) -> None:
        for resource in resources.values():
            for method in resource.get("methods", {}).values():
                methods.add(method.get("id", "?"))
            walk(resource.get("resources", {}))

    walk(doc.get("resources", {}))
    schemas = doc.get("schemas", {})
    return methods, {name: _digest(schema) for name, schema in schemas.items()}


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _describe_change(name: str, old_text: str, new_text: str) -> Iterable[str]:
    if not name.endswith(".json"):
        yield f"{name}: text changed ({len(old_text)} → {len(new_text)} characters)"
        return
    old, new = json.loads(old_text), json.loads(new_text)
    summary = _discovery_summary if "discovery" in name else _openapi_summary
    (old_ops, old_schemas), (new_ops, new_schemas) = summary(old), summary(new)
    kind = "method" if "discovery" in name else "operation"
    for op in sorted(new_ops - old_ops):
        yield f"{name}: + {kind} {op}"
    for op in sorted(old_ops - new_ops):
        yield f"{name}: - {kind} {op}"
    for schema in sorted(new_schemas.keys() - old_schemas.keys()):
        yield f"{name}: + schema {schema}"
    for schema in sorted(old_schemas.keys() - new_schemas.keys()):
        yield f"{name}: - schema {schema}"
    for schema in sorted(old_schemas.keys() & new_schemas.keys()):
        if old_schemas[schema] != new_schemas[schema]:
            yield f"{name}: ~ schema {schema}"
    if old_ops == new_ops and old_schemas == new_schemas:
        yield f"{name}: changed outside operations and schemas"


def refresh_documents(shared: Path, *, check: bool) -> int:
    """Copy newer documents from `shared`; print what changed. Returns the number changed."""
    if not shared.is_dir():
        print(f"contract: {shared} does not exist; the shipped copies stay as they are")
        return 0
    changed = 0
    for source_name, copy_name in DOCUMENTS:
        source, copy = shared / source_name, CONTRACT_DIR / copy_name
        if not source.is_file():
            print(f"contract: {source} is missing; {copy_name} stays as it is")
            continue
        new_text = source.read_text(encoding="utf-8")
        old_text = copy.read_text(encoding="utf-8") if copy.is_file() else ""
        if new_text == old_text:
            print(f"contract: {copy_name} is up to date")
            continue
        changed += 1
        if old_text:
            for line in _describe_change(copy_name, old_text, new_text):
                print(f"contract: {line}")
        else:
            print(f"contract: {copy_name} is new")
        if not check:
            copy.write_text(new_text, encoding="utf-8")
    return changed


def build_descriptor_set() -> tuple[bytes, dict[str, Any]]:
    """The SDK's files for the AgentKit services and everything they import, dependencies
    first, as a serialized FileDescriptorSet; and a manifest of what it holds."""
    from importlib.metadata import version

    from google.protobuf import descriptor_pb2

    ordered: list[Any] = []
    seen: set[str] = set()

    def visit(file_descriptor: Any) -> None:
        if file_descriptor.name in seen:
            return
        seen.add(file_descriptor.name)
        for dependency in file_descriptor.dependencies:
            visit(dependency)
        ordered.append(file_descriptor)

    for module_name in SDK_MODULES:
        visit(importlib.import_module(module_name).DESCRIPTOR)
    file_set = descriptor_pb2.FileDescriptorSet()
    for file_descriptor in ordered:
        proto = file_set.file.add()
        file_descriptor.CopyToProto(proto)
    data = file_set.SerializeToString(deterministic=True)
    manifest = {
        "source": f"{SDK_DISTRIBUTION} {version(SDK_DISTRIBUTION)}",
        "modules": list(SDK_MODULES),
        "files": [fd.name for fd in ordered],
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    return data, manifest


# The services whose RPCs the rule table covers (AgentKit's REST document maps these).
RULE_SERVICES = (
    "scalekit.v1.connected_accounts.ConnectedAccountService",
    "scalekit.v1.tools.ToolService",
    "scalekit.v1.mcp.McpService",
    "scalekit.v1.providers.ProviderService",
)
RULE_TABLE_PATH = REPO_ROOT / "scalekit_cli" / "scalekit" / "field_rules.json"

_SCALAR_KINDS = {
    1: "double",
    2: "float",
    3: "int64",
    4: "uint64",
    5: "int32",
    6: "fixed64",
    7: "fixed32",
    8: "bool",
    9: "string",
    12: "bytes",
    13: "uint32",
    15: "sfixed32",
    16: "sfixed64",
    17: "sint32",
    18: "sint64",
}
# Well-known types travel in their own JSON shapes (the proto JSON mapping).
_WELL_KNOWN = {
    "google.protobuf.Struct": "struct",
    "google.protobuf.ListValue": "list_value",
    "google.protobuf.Value": "value",
    "google.protobuf.Timestamp": "timestamp",
    "google.protobuf.Duration": "duration",
    "google.protobuf.FieldMask": "field_mask",
    "google.protobuf.BoolValue": "bool",
    "google.protobuf.StringValue": "string",
    "google.protobuf.Int32Value": "int32",
    "google.protobuf.UInt32Value": "uint32",
    "google.protobuf.Int64Value": "int64",
    "google.protobuf.UInt64Value": "uint64",
    "google.protobuf.DoubleValue": "double",
    "google.protobuf.FloatValue": "float",
    "google.protobuf.BytesValue": "bytes",
}
# The buf.validate rules the checker in scalekit_cli/scalekit/rules.py implements; a rule
# outside these makes the build fail, so a new kind of rule is never silently ignored.
_SUPPORTED_RULES = {
    "string": {
        "min_len",
        "max_len",
        "len",
        "pattern",
        "prefix",
        "suffix",
        "contains",
        "in",
        "not_in",
        "const",
    },
    "number": {"lt", "lte", "gt", "gte", "in", "not_in", "const"},
    "repeated": {"min_items", "max_items", "items"},
    "map": {"min_pairs", "max_pairs", "keys", "values"},
    "enum": {"defined_only", "in", "not_in", "const"},
}
_NUMBER_RULE_NAMES = {
    "int32",
    "int64",
    "uint32",
    "uint64",
    "sint32",
    "sint64",
    "fixed32",
    "fixed64",
    "sfixed32",
    "sfixed64",
    "double",
    "float",
}


def _rules_of(field_rules: Any, where: str) -> dict[str, Any]:
    """One field's buf.validate rules as plain JSON: {"required"?, "string"|"number"|...}."""
    from google.protobuf import json_format

    raw = json_format.MessageToDict(field_rules, preserving_proto_field_name=True)
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "required":
            out["required"] = bool(value)
        elif name == "ignore":
            if value not in ("IGNORE_UNSPECIFIED", 0):
                raise SystemExit(f"contract: {where}: ignore={value} is not supported")
        elif name in ("string", "repeated", "map", "enum") or name in _NUMBER_RULE_NAMES:
            family = "number" if name in _NUMBER_RULE_NAMES else name
            unknown = set(value) - _SUPPORTED_RULES[family]
            if unknown:
                raise SystemExit(f"contract: {where}: unsupported {name} rules {sorted(unknown)}")
            rules = dict(value)
            for nested in ("items", "keys", "values"):
                if nested in rules:
                    rules[nested] = _rules_of_dict(rules[nested], f"{where}.{nested}")
            for bound in ("lt", "lte", "gt", "gte", "const"):
                if family == "number" and bound in rules:
                    rules[bound] = _number(rules[bound])
            for bound in (
                "min_len",
                "max_len",
                "len",
                "min_items",
                "max_items",
                "min_pairs",
                "max_pairs",
            ):
                if bound in rules:
                    rules[bound] = int(rules[bound])
            out[family] = rules
        else:
            raise SystemExit(f"contract: {where}: unsupported rule {name}")
    return out


def _rules_of_dict(value: dict[str, Any], where: str) -> dict[str, Any]:
    from buf.validate import validate_pb2
    from google.protobuf import json_format

    rules = validate_pb2.FieldRules()
    json_format.ParseDict(value, rules)
    return _rules_of(rules, where)


def _number(value: Any) -> int | float:
    number = float(value)
    return int(number) if number.is_integer() else number


def _field_type(field: Any) -> dict[str, Any]:
    if field.type == 14:
        return {"kind": "enum", "enum": field.enum_type.full_name}
    if field.type == 11:
        name = field.message_type.full_name
        if name in _WELL_KNOWN:
            return {"kind": _WELL_KNOWN[name]}
        return {"kind": "message", "message": name}
    return {"kind": _SCALAR_KINDS[field.type]}


def build_rule_table(descriptor_bytes: bytes, openapi: dict[str, Any]) -> dict[str, Any]:
    """The rule table, from the descriptor set (and the success statuses of the document)."""
    from buf.validate import validate_pb2
    from google.api import annotations_pb2
    from google.protobuf import descriptor_pb2, descriptor_pool

    file_set = descriptor_pb2.FileDescriptorSet.FromString(descriptor_bytes)
    pool = descriptor_pool.DescriptorPool()
    for proto in file_set.file:
        pool.Add(proto)
    statuses = {
        operation.get("operationId"): int(next(c for c in operation["responses"] if c[0] == "2"))
        for item in openapi.get("paths", {}).values()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    }
    documented = {
        (method.upper(), path)
        for path, item in openapi.get("paths", {}).items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch"}
    }
    messages: dict[str, Any] = {}
    enums: dict[str, list[str]] = {}

    def add_message(descriptor: Any) -> None:
        if descriptor.full_name in messages:
            return
        entry: dict[str, Any] = {"fields": {}}
        messages[descriptor.full_name] = entry
        options = descriptor.GetOptions()
        if options.HasExtension(validate_pb2.message):
            message_rules = options.Extensions[validate_pb2.message]
            for expression in message_rules.cel:
                entry.setdefault("cel", []).append(
                    {
                        "id": expression.id,
                        "message": expression.message,
                        "expression": expression.expression,
                    }
                )
            if len(message_rules.oneof):
                raise SystemExit(f"contract: {descriptor.full_name}: unsupported message rules")
        for oneof in descriptor.oneofs:
            if oneof.GetOptions().HasExtension(validate_pb2.oneof):
                required = oneof.GetOptions().Extensions[validate_pb2.oneof].required
                if required and not oneof.name.startswith("_"):
                    entry.setdefault("required_oneofs", []).append([f.name for f in oneof.fields])
        for field in descriptor.fields:
            spec: dict[str, Any]
            if field.type == 11 and field.message_type.GetOptions().map_entry:
                key, value = (
                    field.message_type.fields_by_name["key"],
                    field.message_type.fields_by_name["value"],
                )
                spec = {"kind": "map", "key": _field_type(key), "value": _field_type(value)}
                if value.type == 11 and spec["value"]["kind"] == "message":
                    add_message(value.message_type)
            else:
                spec = _field_type(field)
                if field.is_repeated:
                    spec["repeated"] = True
                if field.type == 11 and spec["kind"] == "message":
                    add_message(field.message_type)
            if field.type == 14:
                enums[field.enum_type.full_name] = [v.name for v in field.enum_type.values]
            if field.has_presence and not field.is_repeated:
                spec["presence"] = True
            if field.containing_oneof is not None and not field.containing_oneof.name.startswith(
                "_"
            ):
                spec["oneof"] = field.containing_oneof.name
            field_options = field.GetOptions()
            if field_options.HasExtension(validate_pb2.field):
                rules = _rules_of(
                    field_options.Extensions[validate_pb2.field],
                    f"{descriptor.full_name}.{field.name}",
                )
                if rules:
                    spec["rules"] = rules
            entry["fields"][field.name] = spec

    rpcs: dict[str, Any] = {}
    for service_name in RULE_SERVICES:
        service = pool.FindServiceByName(service_name)
        for method in service.methods:
            add_message(method.input_type)
            rpc: dict[str, Any] = {
                "request": method.input_type.full_name,
                "response": method.output_type.full_name,
            }
            options = method.GetOptions()
            if options.HasExtension(annotations_pb2.http):
                rule = options.Extensions[annotations_pb2.http]
                bindings = [rule, *rule.additional_bindings]
                rpc["http"] = [
                    {
                        "method": binding.WhichOneof("pattern").upper(),
                        "path": getattr(binding, binding.WhichOneof("pattern")),
                        "body": binding.body,
                        # Whether the OpenAPI document lists this route (the REST face
                        # serves only those).
                        "documented": (
                            binding.WhichOneof("pattern").upper(),
                            getattr(binding, binding.WhichOneof("pattern")),
                        )
                        in documented,
                    }
                    for binding in bindings
                ]
            status = statuses.get(f"{service.name}_{method.name}")
            if status is not None:
                rpc["status"] = status
            rpcs[f"{service_name}/{method.name}"] = rpc
    _check_cel(messages)
    return {
        "source": _descriptor_source(),
        "rpcs": rpcs,
        "messages": dict(sorted(messages.items())),
        "enums": dict(sorted(enums.items())),
    }


def _check_cel(messages: dict[str, Any]) -> None:
    """Every message-level CEL rule must be one the checker evaluates, or the build fails."""
    sys.path.insert(0, str(REPO_ROOT))
    from scalekit_cli.scalekit.rules import CelUnsupported, check_cel_supported

    for name, message in messages.items():
        for rule in message.get("cel", ()):
            try:
                check_cel_supported(rule["expression"], message["fields"])
            except CelUnsupported as error:
                raise SystemExit(f"contract: {name}: CEL rule {rule['id']!r}: {error}") from None


def _descriptor_source() -> str:
    manifest = CONTRACT_DIR / "descriptors.json"
    return json.loads(manifest.read_text(encoding="utf-8"))["source"]


def rule_table_text() -> str:
    """The rule table as the shipped file holds it, from the shipped descriptor set."""
    data = (CONTRACT_DIR / "scalekit.descriptors.binpb").read_bytes()
    openapi = json.loads((CONTRACT_DIR / "agentkit.openapi.json").read_text(encoding="utf-8"))
    return json.dumps(build_rule_table(data, openapi), indent=1, ensure_ascii=False) + "\n"


def refresh_rule_table(*, check: bool) -> int:
    text = rule_table_text()
    old = RULE_TABLE_PATH.read_text(encoding="utf-8") if RULE_TABLE_PATH.is_file() else ""
    if old == text:
        print("contract: rule table is up to date")
        return 0
    table = json.loads(text)
    print(
        f"contract: rule table rebuilt: {len(table['rpcs'])} RPCs, "
        f"{len(table['messages'])} messages"
    )
    if not check:
        RULE_TABLE_PATH.write_text(text, encoding="utf-8")
    return 1


def refresh_descriptors(*, check: bool) -> int:
    try:
        data, manifest = build_descriptor_set()
    except ImportError as exc:
        print(
            f"contract: cannot import the official SDK ({exc}); install the dev extras "
            f"(pip install -e '.[dev]') to rebuild the descriptor set",
            file=sys.stderr,
        )
        return -1
    path = CONTRACT_DIR / "scalekit.descriptors.binpb"
    manifest_path = CONTRACT_DIR / "descriptors.json"
    old = path.read_bytes() if path.is_file() else b""
    if old == data:
        print(f"contract: descriptor set is up to date ({manifest['source']})")
        return 0
    count = len(manifest["files"])
    print(f"contract: descriptor set rebuilt from {manifest['source']}: {count} files")
    if not check:
        path.write_bytes(data)
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO_ROOT.parent / "shared")
    parser.add_argument("--descriptors", action="store_true", help="rebuild the descriptor set")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    changed = refresh_documents(args.shared.resolve(), check=args.check)
    if args.descriptors:
        result = refresh_descriptors(check=args.check)
        if result < 0:
            return 2
        changed += result
    changed += refresh_rule_table(check=args.check)
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
