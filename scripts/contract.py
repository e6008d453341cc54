"""Refresh the contract the project ships (`make contract`).

The sandbox and the tests read the vendor's documents from `scalekit_cli/sandbox/contract/`,
so a fresh clone needs nothing beside it. This script:

1. copies newer documents from `../shared/` (the directory where new releases of them arrive)
   over the shipped copies, and says what changed: operations and schemas of the OpenAPI
   document, methods and schemas of Gmail's discovery document;
2. with `--descriptors`, rebuilds the descriptor set of the official SDK's proto messages
   (`scalekit-sdk-python`, from the dev extras) that carries the service's `buf.validate`
   field rules;
3. derives two small tables from that descriptor set: the route table
   (`scalekit_cli/sandbox/contract/routes.json`: every RPC of the AgentKit services with its
   request and response message, its HTTP bindings and, from the OpenAPI document, its success
   status) and the CLI's input limits (`scalekit_cli/scalekit/limits.py`: the few field rules
   that apply to what a user types). The field rules themselves stay in the descriptor set,
   where protovalidate reads them; nobody types a rule by hand;
4. appends to the shipped copy of CONTRACT.md (the vendor's map) a generated section, "What
   the sandbox serves": every RPC of the route table, served or why not, from
   `OPERATIONS` and `NOT_SERVED` in scalekit_cli/sandbox/operations.py.

    python scripts/contract.py [--shared ../shared] [--descriptors] [--check]

`--check` changes nothing and exits 1 when a shipped copy differs from `../shared/` or the
derived tables differ from what the descriptor set gives.
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
# MCP configurations, custom providers), the connection service (AgentKit's app connections
# are listed there) and the gateway's error details.
SDK_MODULES = (
    "scalekit.v1.connected_accounts.connected_accounts_pb2",
    "scalekit.v1.connections.connections_pb2",
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
        if copy_name == "CONTRACT.md":
            new_text = with_served_section(new_text)
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


# The services whose RPCs the route table covers (AgentKit's REST document maps these).
ROUTE_SERVICES = (
    "scalekit.v1.connected_accounts.ConnectedAccountService",
    "scalekit.v1.tools.ToolService",
    "scalekit.v1.mcp.McpService",
    "scalekit.v1.providers.ProviderService",
)
# Single RPCs of other services that belong to AgentKit: the rest of the connection service
# is single sign-on, which the table leaves out.
ROUTE_EXTRA_RPCS = ("scalekit.v1.connections.ConnectionService/ListAppConnections",)
ROUTE_TABLE_PATH = CONTRACT_DIR / "routes.json"
LIMITS_PATH = REPO_ROOT / "scalekit_cli" / "scalekit" / "limits.py"

# The few rules that apply to what a user types on sk's command line, as
# (constant, request message, field, rule): `limits.py` holds their values.
_ACCOUNTS = "scalekit.v1.connected_accounts"
CLI_LIMITS = (
    (
        "IDENTIFIER_MAX_LEN",
        f"{_ACCOUNTS}.GetConnectedAccountByIdentifierRequest",
        "identifier",
        "string.max_len",
    ),
    (
        "CONNECTOR_MAX_LEN",
        f"{_ACCOUNTS}.GetConnectedAccountByIdentifierRequest",
        "connector",
        "string.max_len",
    ),
    (
        "CONNECTOR_PATTERN",
        f"{_ACCOUNTS}.GetConnectedAccountByIdentifierRequest",
        "connector",
        "string.pattern",
    ),
    (
        "VERIFY_URL_MAX_LEN",
        f"{_ACCOUNTS}.GetMagicLinkForConnectedAccountRequest",
        "user_verify_url",
        "string.max_len",
    ),
    (
        "VERIFY_URL_PATTERN",
        f"{_ACCOUNTS}.GetMagicLinkForConnectedAccountRequest",
        "user_verify_url",
        "string.pattern",
    ),
    (
        "ACCOUNT_ID_MAX_LEN",
        f"{_ACCOUNTS}.GetConnectedAccountByIdentifierRequest",
        "id",
        "string.max_len",
    ),
    (
        "ACCOUNT_ID_PREFIX",
        f"{_ACCOUNTS}.GetConnectedAccountByIdentifierRequest",
        "id",
        "string.prefix",
    ),
    (
        "ACCOUNTS_PAGE_SIZE_LT",
        f"{_ACCOUNTS}.ListConnectedAccountsRequest",
        "page_size",
        "uint32.lt",
    ),
)


def _pool(descriptor_bytes: bytes) -> Any:
    from google.protobuf import descriptor_pb2, descriptor_pool

    pool = descriptor_pool.DescriptorPool()
    for proto in descriptor_pb2.FileDescriptorSet.FromString(descriptor_bytes).file:
        pool.Add(proto)
    return pool


def build_route_table(descriptor_bytes: bytes, openapi: dict[str, Any]) -> dict[str, Any]:
    """Every RPC of the AgentKit services: its request and response message, its HTTP
    bindings (`google.api.http`, and whether the OpenAPI document lists each) and the
    document's success status. No field rule: protovalidate reads those from the
    descriptors themselves."""
    from google.api import annotations_pb2

    pool = _pool(descriptor_bytes)
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
    rpcs: dict[str, Any] = {}
    methods = [
        (service_name, method)
        for service_name in ROUTE_SERVICES
        for method in pool.FindServiceByName(service_name).methods
    ]
    for extra in ROUTE_EXTRA_RPCS:
        service_name, method_name = extra.split("/")
        service = pool.FindServiceByName(service_name)
        methods.append((service_name, service.methods_by_name[method_name]))
    for service_name, method in methods:
        service = method.containing_service
        rpc: dict[str, Any] = {
            "request": method.input_type.full_name,
            "response": method.output_type.full_name,
        }
        options = method.GetOptions()
        if options.HasExtension(annotations_pb2.http):
            rule = options.Extensions[annotations_pb2.http]
            rpc["http"] = []
            for binding in [rule, *rule.additional_bindings]:
                verb = binding.WhichOneof("pattern")
                path = getattr(binding, verb)
                rpc["http"].append(
                    {
                        "method": verb.upper(),
                        "path": path,
                        "body": binding.body,
                        # The REST face serves only the routes the document lists.
                        "documented": (verb.upper(), path) in documented,
                    }
                )
        status = statuses.get(f"{service.name}_{method.name}")
        if status is not None:
            rpc["status"] = status
        rpcs[f"{service_name}/{method.name}"] = rpc
    return {"source": _descriptor_source(), "rpcs": rpcs}


def build_limits(descriptor_bytes: bytes) -> dict[str, int | str]:
    """The values of CLI_LIMITS, read from the fields' `buf.validate` options."""
    from buf.validate import validate_pb2

    pool = _pool(descriptor_bytes)
    values: dict[str, int | str] = {}
    for constant, message, field_name, rule in CLI_LIMITS:
        field = pool.FindMessageTypeByName(message).fields_by_name[field_name]
        field_rules = field.GetOptions().Extensions[validate_pb2.field]
        family, name = rule.split(".")
        family_rules = getattr(field_rules, family)
        if not family_rules.HasField(name):
            raise SystemExit(f"contract: {message}.{field_name} has no {rule} rule any more")
        value = getattr(family_rules, name)
        values[constant] = value if isinstance(value, str) else int(value)
    return values


def _descriptor_source() -> str:
    manifest = CONTRACT_DIR / "descriptors.json"
    return json.loads(manifest.read_text(encoding="utf-8"))["source"]


def _shipped_contract() -> tuple[bytes, dict[str, Any]]:
    data = (CONTRACT_DIR / "scalekit.descriptors.binpb").read_bytes()
    openapi = json.loads((CONTRACT_DIR / "agentkit.openapi.json").read_text(encoding="utf-8"))
    return data, openapi


def route_table_text() -> str:
    """The route table as the shipped file holds it, from the shipped descriptor set."""
    data, openapi = _shipped_contract()
    return json.dumps(build_route_table(data, openapi), indent=1, ensure_ascii=False) + "\n"


def limits_text() -> str:
    """scalekit_cli/scalekit/limits.py as shipped, from the shipped descriptor set."""
    data, _ = _shipped_contract()
    lines = [
        '"""The service\'s field rules for what a user types on sk\'s command line (--user, a',
        "connector's name, --verify-url, a page of accounts) and what a snapshot carries (an",
        "account's id): generated by `make contract`",
        "(scripts/contract.py) from the `buf.validate` options of the descriptor set the project",
        "ships; do not edit. The service checks every rule itself; these let sk refuse a typo",
        'before anything is sent."""',
        "",
        f"SOURCE = {json.dumps(_descriptor_source())}",
    ]
    values = build_limits(data)
    for constant, message, field_name, rule in CLI_LIMITS:
        short = message.rsplit(".", 1)[1]
        shown = json.dumps(values[constant])  # a Python literal too: an int, or a plain string
        lines += ["", f"# {short}.{field_name}: {rule}", f"{constant} = {shown}"]
    return "\n".join(lines) + "\n"


def _refresh(path: Path, text: str, what: str, *, check: bool) -> int:
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    if old == text:
        print(f"contract: {what} is up to date")
        return 0
    print(f"contract: {what} rebuilt ({path.name})")
    if not check:
        path.write_text(text, encoding="utf-8")
    return 1


SERVED_BEGIN = (
    "<!-- sandbox-served: generated by `make contract` (scripts/contract.py) from"
    " scalekit_cli/sandbox/operations.py; do not edit -->"
)
SERVED_END = "<!-- /sandbox-served -->"


def served_section() -> str:
    """ "What the sandbox serves": each RPC of the shipped route table, served or why not."""
    from scalekit_cli.sandbox import operations

    table = json.loads(route_table_text())["rpcs"]
    lines = [
        "## What the sandbox serves",
        "",
        "Every RPC of the AgentKit services in the shipped descriptors. Served RPCs answer",
        "over REST at their HTTP bindings and over gRPC, with the service's field rules.",
        "",
        "| RPC | In the sandbox |",
        "|---|---|",
    ]
    for rpc in sorted(table):
        if rpc in operations.OPERATIONS:
            verdict = "served (REST, gRPC)"
        else:
            verdict = "not served: " + operations.NOT_SERVED.get(rpc, "(no reason given)")
        lines.append(f"| `{rpc.removeprefix('scalekit.v1.')}` | {verdict} |")
    return "\n".join(lines) + "\n"


def with_served_section(text: str) -> str:
    """The vendor's CONTRACT.md with the generated section at its end (replacing an old one)."""
    if SERVED_BEGIN in text:
        text = text[: text.index(SERVED_BEGIN)].rstrip("\n") + "\n"
    return f"{text}\n{SERVED_BEGIN}\n\n{served_section()}\n{SERVED_END}\n"


def refresh_derived(*, check: bool) -> int:
    contract = CONTRACT_DIR / "CONTRACT.md"
    served = with_served_section(contract.read_text(encoding="utf-8"))
    return (
        _refresh(ROUTE_TABLE_PATH, route_table_text(), "route table", check=check)
        + _refresh(LIMITS_PATH, limits_text(), "CLI limits", check=check)
        + _refresh(contract, served, "CONTRACT.md's served section", check=check)
    )


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
    changed += refresh_derived(check=args.check)
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
