"""The service's field rules: the sandbox's verdict on every request, sent over HTTP, is
protovalidate's (bufbuild's own judge), and the route table it serves from is what the
descriptors give.

Request messages are built from the descriptor set the project ships, filled by hypothesis
with values aimed at the edges of each field's `buf.validate` rules (read here from the
descriptors' options), then judged twice: by `protovalidate.validate` in the test, and by a
live sandbox through its REST face. protovalidate refuses → 400, code 3, the same fields,
rules and wording in `field_violations`; protovalidate accepts → no field violation.
"""

from __future__ import annotations

import importlib.util
import json
import string
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import protovalidate
import pytest
from buf.validate import validate_pb2
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalekit_cli.sandbox import operations, protos
from tests.contract.client import AgentKitClient

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def api(sandbox: Any) -> Iterator[AgentKitClient]:
    client = AgentKitClient(sandbox.url)
    client.login(sandbox.settings.client_id, sandbox.settings.client_secret)
    yield client
    client.close()


def _contract_script() -> Any:
    spec = importlib.util.spec_from_file_location("contract_script", REPO / "scripts/contract.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_route_table_is_what_the_descriptor_set_gives() -> None:
    regenerated = _contract_script().route_table_text()
    shipped = protos.ROUTE_TABLE_PATH.read_text(encoding="utf-8")
    assert regenerated == shipped, "run `make contract`: routes.json is stale"
    assert "rules" not in shipped, "the route table holds no field rule"


def test_no_rule_engine_of_our_own_is_shipped() -> None:
    package = REPO / "scalekit_cli"
    assert not (package / "scalekit" / "rules.py").exists()
    assert not (package / "scalekit" / "field_rules.json").exists()


# --- the request messages, and values aimed at their rules ---------------------------------

# The HTTP binding of every RPC the sandbox serves: (rpc, method, path, body field).
ROUTES = sorted(
    (rpc, binding["method"], binding["path"], binding["body"])
    for rpc in operations.OPERATIONS
    for binding in protos.route_table()[rpc].get("http", ())
    if binding["documented"]
)
_WELL_KNOWN = {
    "google.protobuf.Struct": "struct",
    "google.protobuf.ListValue": "list_value",
    "google.protobuf.Value": "value",
    "google.protobuf.Timestamp": "timestamp",
    "google.protobuf.Duration": "duration",
    "google.protobuf.BoolValue": "bool",
    "google.protobuf.StringValue": "string",
}
_NUMBERS = {
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_UINT64: "uint64",
}


def _rules(field: FieldDescriptor) -> dict[str, Any]:
    options = field.GetOptions()
    if not options.HasExtension(validate_pb2.field):
        return {}
    found: dict[str, Any] = json_format.MessageToDict(
        options.Extensions[validate_pb2.field], preserving_proto_field_name=True
    )
    return found


def _kind(field: FieldDescriptor) -> str:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return _WELL_KNOWN.get(field.message_type.full_name, "message")
    if field.type == FieldDescriptor.TYPE_ENUM:
        return "enum"
    if field.type == FieldDescriptor.TYPE_BOOL:
        return "bool"
    if field.type == FieldDescriptor.TYPE_STRING:
        return "string"
    if field.type in _NUMBERS:
        return _NUMBERS[field.type]
    raise AssertionError(f"no strategy for {field.full_name}")


def _lengths(string_rules: dict[str, Any]) -> list[int]:
    edges = {0, 1, 2, 3, 4}
    for bound in ("min_len", "max_len", "len"):
        if bound in string_rules:
            edges |= {max(0, int(string_rules[bound]) + delta) for delta in (-1, 0, 1)}
    return sorted(edges)


def _strings(string_rules: dict[str, Any]) -> st.SearchStrategy[str]:
    pieces = [string_rules.get("prefix", ""), "https://", "http://", "ftp://", "ca_", ""]
    pieces += list(string_rules.get("in", ()))
    alphabet = st.sampled_from(list(string.ascii_letters + string.digits + "_-: !é/"))

    def build(length: int, head: str, fill: str) -> str:
        return (head + fill * length)[: max(length, 0)] if length else ""

    edge = st.builds(
        build, st.sampled_from(_lengths(string_rules)), st.sampled_from(pieces), alphabet
    )
    free = st.text(alphabet=alphabet, max_size=6)
    exact = st.sampled_from([p for p in pieces if p] or ["x"])
    return st.one_of(edge, free, exact, st.builds(lambda h, t: h + t, exact, free))


def _numbers(number_rules: dict[str, Any], kind: str) -> st.SearchStrategy[int]:
    edges = {0, 1, 5}
    for bound in ("lt", "lte", "gt", "gte"):
        if bound in number_rules:
            edges |= {max(0, int(number_rules[bound]) + delta) for delta in (-1, 0, 1)}
    low = 0 if kind.startswith("uint") else -5
    return st.one_of(st.sampled_from(sorted(edges)), st.integers(low, 200))


def _value(field: FieldDescriptor, rules: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    """A JSON value (proto JSON mapping) for one non-repeated field."""
    kind = _kind(field)
    if kind == "string":
        return _strings(rules.get("string", {}))
    if kind == "bool":
        return st.booleans()
    if kind in _NUMBERS.values():
        return _numbers(rules.get(kind, {}), kind)
    if kind == "enum":
        return st.sampled_from([value.name for value in field.enum_type.values])
    if kind == "struct":
        return st.dictionaries(st.sampled_from("abc"), st.integers(0, 3), max_size=2)
    if kind == "list_value":
        return st.lists(
            st.dictionaries(st.sampled_from("ab"), st.booleans(), max_size=1), max_size=2
        )
    if kind == "value":
        return st.one_of(st.integers(0, 3), st.text(max_size=3))
    if kind == "timestamp":
        return st.just("2026-01-02T03:04:05Z")
    if kind == "duration":
        return st.sampled_from(["3600s", "59s", "60s", "1.5s"])
    return _payload(field.message_type.full_name, depth + 1)


def _field_value(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    rules = _rules(field)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        map_rules = rules.get("map", {})
        keys = _strings(map_rules.get("keys", {}).get("string", {}))
        values = _strings(map_rules.get("values", {}).get("string", {}))
        sizes = [0, 1, 2] + ([int(map_rules["max_pairs"]) + 1] if "max_pairs" in map_rules else [])
        return st.sampled_from(sizes).flatmap(
            lambda n: (
                st.dictionaries(keys, values, min_size=min(n, 1), max_size=n)
                if n < 5
                else st.just({f"key{i:03d}": "v" for i in range(n)})
            )
        )
    if field.is_repeated:
        repeated = rules.get("repeated", {})
        item = _value(field, repeated.get("items", {}), depth)
        sizes = [0, 1, 2] + ([int(repeated["max_items"]) + 1] if "max_items" in repeated else [])
        return st.sampled_from(sizes).flatmap(
            lambda n: (
                st.lists(item, min_size=n, max_size=n) if n < 5 else item.map(lambda v: [v] * n)
            )
        )
    return _value(field, rules, depth)


def _in_query(field: FieldDescriptor) -> bool:
    """Whether grpc-gateway can fill the field from a query parameter."""
    kind = _kind(field)
    if kind in ("struct", "list_value", "value"):
        return False
    if kind == "message":
        return not field.is_repeated and not field.message_type.GetOptions().map_entry
    return True


@cache
def _payload(message: str, depth: int = 0, query: bool = False) -> st.SearchStrategy[Any]:
    if depth > 2:
        return st.just({})
    fields = protos.descriptor_pool().FindMessageTypeByName(message).fields
    optional = {
        field.name: (
            _payload(field.message_type.full_name, depth + 1, query)
            if query and _kind(field) == "message"
            else _field_value(field, depth)
        )
        for field in fields
        if not (_kind(field) == "message" and depth >= 2) and (not query or _in_query(field))
    }
    return st.fixed_dictionaries({}, optional=optional)


def _query_pairs(payload: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, value in payload.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                pairs += _query_pairs(item, f"{prefix}{name}.")
            else:
                text = json.dumps(item) if isinstance(item, bool) else str(item)
                pairs.append((f"{prefix}{name}", text))
    return pairs


def _expressible(payload: dict[str, Any], keep: str = "") -> dict[str, Any]:
    """What query parameters can say: an empty list, or a nested message with no field set,
    is no parameter, so the message the gateway builds leaves it unset."""
    out: dict[str, Any] = {}
    for name, value in payload.items():
        if value == [] and name != keep:
            continue
        if isinstance(value, dict) and name != keep:
            value = _expressible(value)
            if not value:
                continue
        out[name] = value
    return out


# --- the two judges ----------------------------------------------------------------------------


def _path(violation: Any) -> str:
    parts: list[str] = []
    for element in violation.proto.field.elements if violation.proto.field else ():
        part = element.field_name
        subscript = element.subscript
        if subscript is not None and subscript.field == "string_key":
            part += f"[{json.dumps(subscript.value)}]"
        elif subscript is not None:
            part += f"[{subscript.value}]"
        parts.append(part)
    return ".".join(parts)


def _protovalidate_verdict(message: Any) -> list[tuple[str, str, str]]:
    try:
        protovalidate.validate(message)
    except protovalidate.ValidationError as error:
        return sorted((_path(v), v.proto.rule_id, v.proto.message) for v in error.violations)
    return []


def _sandbox_verdict(
    api: AgentKitClient, method: str, path: str, body_field: str, payload: dict[str, Any]
) -> list[tuple[str, str, str]]:
    payload = dict(payload)
    for name in [part.strip("{}") for part in path.split("/") if part.startswith("{")]:
        path = path.replace(f"{{{name}}}", quote(str(payload.pop(name)), safe=""))
    params: list[tuple[str, str]] = []
    if body_field != "*":
        body = payload.pop(body_field, {}) if body_field else None
        params, payload = _query_pairs(payload), body
    # The raw client: the handler's own verdicts on accepted requests (an unknown account, a
    # name taken) and their statuses are outside this test; a server error is not.
    response = api.http.request(
        method,
        path,
        params=params or None,
        json=payload,
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code < 500, response.text
    body = response.json()
    details = body.get("details") or [{}] if isinstance(body, dict) else [{}]
    found = details[0].get("validation_error_info", {}).get("field_violations", [])
    if found:
        assert (response.status_code, body["code"]) == (400, 3), body
        assert body["message"] == "; ".join(
            f"{v['field']}: {v['description']}" if v["field"] else v["description"] for v in found
        )
    return sorted((v["field"], v["constraint"], v["description"]) for v in found)


@pytest.mark.parametrize(("rpc", "method", "path", "body_field"), ROUTES, ids=lambda v: str(v))
@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=st.data())
def test_sandbox_verdict_over_http_equals_protovalidate(
    api: AgentKitClient, rpc: str, method: str, path: str, body_field: str, data: st.DataObject
) -> None:
    name = operations.OPERATIONS[rpc].request
    payload = data.draw(_payload(name, 0, body_field != "*" and not body_field))
    if body_field not in ("", "*"):
        body_type = protos.descriptor_pool().FindMessageTypeByName(name)
        body_message = body_type.fields_by_name[body_field].message_type.full_name
        payload[body_field] = data.draw(_payload(body_message, 1))
    if body_field != "*":
        payload = _expressible(payload, body_field)
    for part in path.split("/"):
        if part.startswith("{"):
            payload[part.strip("{}")] = "cfg_1"  # a value the route can carry
    message = json_format.ParseDict(payload, protos.message_class(name)())
    expected = _protovalidate_verdict(message)
    assert _sandbox_verdict(api, method, path, body_field, payload) == expected, payload


def test_generated_requests_reach_both_verdicts_for_every_rule_kind() -> None:
    """The generator is worth something only if it makes both accepted and refused
    requests, and breaks every kind of rule the descriptors hold."""
    seen_rules: set[str] = set()
    accepted = refused = 0
    names = sorted({operations.OPERATIONS[rpc].request for rpc, *_ in ROUTES})

    @settings(
        max_examples=400,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def sample(data: st.DataObject) -> None:
        nonlocal accepted, refused
        name = data.draw(st.sampled_from(names))
        message = json_format.ParseDict(data.draw(_payload(name)), protos.message_class(name)())
        verdict = _protovalidate_verdict(message)
        if verdict:
            refused += 1
            seen_rules.update(rule.split(".")[-1] for _, rule, _ in verdict)
        else:
            accepted += 1

    sample()
    assert accepted and refused
    assert {"required", "max_len", "min_len", "pattern", "prefix"} <= seen_rules, seen_rules


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/api/v1/connected_accounts/magic_link",
            {"connector": "gmail", "identifier": "u" * 101},
            "identifier: must be at most 100 characters",
        ),
        (
            "/api/v1/connected_accounts/magic_link",
            {"connector": "gmail", "identifier": "u", "user_verify_url": "ftp://x"},
            "user_verify_url: does not match regex pattern `^$|^https?://`",
        ),
        (
            "/api/v1/connected_accounts/magic_link",
            {"connector": "gmail", "identifier": "u", "state": "s" * 513},
            "state: must be at most 512 characters",
        ),
        (
            "/api/v1/connected_accounts",
            {"connector": "gm@il", "identifier": "u", "connected_account": {}},
            "connector: does not match regex pattern `^[a-zA-Z0-9_: -]*$`",
        ),
        (
            "/api/v1/connected_accounts/user/verify",
            {"auth_request_id": "a", "identifier": "u" * 201},
            "identifier: must be at most 200 characters",
        ),
    ],
)
def test_breaches_are_400_code_3_naming_field_and_rule(
    api: AgentKitClient, path: str, body: dict[str, Any], message: str
) -> None:
    answer = api.call("POST", path, body=body, check_request=False)  # wrong on purpose
    assert (answer.status, answer.body["code"]) == (400, 3), answer.body
    assert answer.body["message"] == message
    assert not api.list_accounts({})["connected_accounts"], "nothing may be created"


def test_query_values_parse_strictly(api: AgentKitClient) -> None:
    # grpc-gateway parses booleans with strconv.ParseBool: "AAA" is not false.
    for raw in ("AAA", "yes", ""):
        answer = api.call(
            "GET", "/api/v1/tools", params={"filter.summary": raw}, check_request=False
        )
        assert (answer.status, answer.body["code"]) == (400, 3), (raw, answer.body)
        assert answer.body["message"].startswith("filter.summary: invalid value for bool")
    for raw in ("true", "1", "TRUE", "t"):
        answer = api.call(
            "GET", "/api/v1/tools", params={"filter.summary": raw}, check_request=False
        )
        assert answer.status == 200 and "tool_names" in answer.body, (raw, answer.body)
    answer = api.call(
        "GET", "/api/v1/connected_accounts", params={"page_size": "ten"}, check_request=False
    )
    assert (answer.status, answer.body["code"]) == (400, 3)


def test_two_members_of_a_oneof_are_refused_as_protojson_refuses_them(
    api: AgentKitClient,
) -> None:
    details = {"oauth_token": {"access_token": "a"}, "static_auth": {"details": {}}}
    body = {
        "connector": "gmail",
        "identifier": "u",
        "connected_account": {"authorization_details": details},
    }
    name = "scalekit.v1.connected_accounts.CreateConnectedAccountRequest"
    with pytest.raises(json_format.ParseError) as parsed:
        json_format.ParseDict(body, protos.message_class(name)())
    answer = api.call("POST", "/api/v1/connected_accounts", body=body, check_request=False)
    assert (answer.status, answer.body["code"]) == (400, 3), answer.body
    assert answer.body["message"] == str(parsed.value)
    assert not api.list_accounts({})["connected_accounts"], "nothing may be created"
