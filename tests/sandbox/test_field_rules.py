"""The service's field rules: the shipped table is what the descriptors give, and the
sandbox's verdict on every request message equals protovalidate's (bufbuild's own judge).

Request messages are built from the descriptor set the project ships (a DescriptorPool over
`scalekit.descriptors.binpb` and google.protobuf's message factory), filled by hypothesis
with values aimed at each rule's edges, then judged twice: by `protovalidate.validate` and by
the sandbox's checker (the same one `sk` runs before sending). Both must accept, or both
refuse with the same fields, rules and wording.
"""

from __future__ import annotations

import importlib.util
import json
import string
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import protovalidate
import pytest
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.descriptor_pb2 import FileDescriptorSet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalekit_cli.sandbox import operations
from scalekit_cli.sandbox.contract import descriptor_set_bytes
from scalekit_cli.sandbox.errors import ApiError
from scalekit_cli.scalekit import rules
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


def test_shipped_rule_table_is_what_the_descriptor_set_gives() -> None:
    regenerated = _contract_script().rule_table_text()
    shipped = rules.RULE_TABLE_PATH.read_text(encoding="utf-8")
    assert regenerated == shipped, "run `make contract`: field_rules.json is stale"


def test_every_message_rule_is_cel_the_checker_evaluates() -> None:
    for message in rules.table().messages.values():
        for rule in message.get("cel", ()):
            rules.check_cel_supported(rule["expression"], message["fields"])
    assert any("cel" in message for message in rules.table().messages.values())


@cache
def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for proto in FileDescriptorSet.FromString(descriptor_set_bytes()).file:
        pool.Add(proto)
    return pool


def _message_class(name: str) -> Any:
    return message_factory.GetMessageClass(_pool().FindMessageTypeByName(name))


# The request messages of the RPCs the sandbox serves (the operations layer's table).
REQUESTS = sorted({op.request for op in operations.OPERATIONS.values()})


def _lengths(string_rules: dict[str, Any]) -> list[int]:
    edges = {0, 1, 2, 3, 4}
    for bound in ("min_len", "max_len", "len"):
        if bound in string_rules:
            edges |= {max(0, string_rules[bound] + delta) for delta in (-1, 0, 1)}
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
    low = 0 if kind.startswith("uint") or kind.startswith("fixed") else -5
    return st.one_of(st.sampled_from(sorted(edges)), st.integers(low, 200))


def _value(spec: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    """A JSON value (proto JSON mapping) for one non-repeated field."""
    kind = spec["kind"]
    field_rules = spec.get("rules", {})
    if kind == "string":
        return _strings(field_rules.get("string", {}))
    if kind == "bool":
        return st.booleans()
    if kind in ("int32", "int64", "uint32", "uint64"):
        return _numbers(field_rules.get("number", {}), kind)
    if kind == "enum":
        return st.sampled_from(rules.table().enums[spec["enum"]])
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
    if kind == "message":
        return _payload(spec["message"], depth + 1)
    raise AssertionError(f"no strategy for {kind}")


def _field_value(spec: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    if spec["kind"] == "map":
        map_rules = spec.get("rules", {}).get("map", {})
        keys = _strings(map_rules.get("keys", {}).get("string", {}))
        values = _strings(map_rules.get("values", {}).get("string", {}))
        sizes = [0, 1, 2] + ([map_rules["max_pairs"] + 1] if "max_pairs" in map_rules else [])
        return st.sampled_from(sizes).flatmap(
            lambda n: (
                st.dictionaries(keys, values, min_size=min(n, 1), max_size=n)
                if n < 5
                else st.just({f"key{i:03d}": "v" for i in range(n)})
            )
        )
    if spec.get("repeated"):
        repeated = spec.get("rules", {}).get("repeated", {})
        item = _value({**spec, "rules": repeated.get("items", {})}, depth)
        sizes = [0, 1, 2] + ([repeated["max_items"] + 1] if "max_items" in repeated else [])
        return st.sampled_from(sizes).flatmap(
            lambda n: (
                st.lists(item, min_size=n, max_size=n) if n < 5 else item.map(lambda v: [v] * n)
            )
        )
    return _value(spec, depth)


@cache
def _payload(message: str, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    fields = rules.table().messages[message]["fields"]
    if depth > 2:
        return st.just({})
    optional = {
        name: _field_value(spec, depth)
        for name, spec in fields.items()
        if not (spec["kind"] == "message" and depth >= 2)
    }
    return st.fixed_dictionaries({}, optional=optional)


def _path(violation: Any) -> str:
    parts: list[str] = []
    for element in violation.proto.field.elements if violation.proto.field else ():
        part = element.field_name
        subscript = element.subscript
        if subscript is not None and subscript.field == "index":
            part += f"[{subscript.value}]"
        elif subscript is not None and subscript.field == "string_key":
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


def _sandbox_verdict(message_name: str, payload: dict[str, Any]) -> list[tuple[str, str, str]]:
    try:
        operations.check(message_name, payload)
    except ApiError as error:
        assert error.code == 3 and error.http_status == 400
        assert error.message == "; ".join(str(v) for v in error.field_violations)
        return sorted((v.field, v.rule_id, v.message) for v in error.field_violations)
    return []


@pytest.mark.parametrize("message_name", REQUESTS)
@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_sandbox_verdict_equals_protovalidate(message_name: str, data: st.DataObject) -> None:
    payload = data.draw(_payload(message_name))
    message = json_format.ParseDict(payload, _message_class(message_name)())
    # What a face hands the operations layer: the message in the proto JSON mapping.
    wire = json_format.MessageToDict(message, preserving_proto_field_name=True)
    expected = _protovalidate_verdict(message)
    assert _sandbox_verdict(message_name, wire) == expected, (payload, wire)


def test_generated_requests_reach_both_verdicts_for_every_rule_kind() -> None:
    """The generator is worth something only if it makes both accepted and refused
    requests, and breaks every kind of rule the table holds."""
    seen_rules: set[str] = set()
    accepted = refused = 0

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
        name = data.draw(st.sampled_from(REQUESTS))
        message = json_format.ParseDict(data.draw(_payload(name)), _message_class(name)())
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


def test_two_members_of_a_oneof_are_refused_as_protojson_refuses_them() -> None:
    details = {"oauth_token": {"access_token": "a"}, "static_auth": {"details": {}}}
    payload = {
        "connector": "gmail",
        "identifier": "u",
        "connected_account": {"authorization_details": details},
    }
    name = "scalekit.v1.connected_accounts.CreateConnectedAccountRequest"
    with pytest.raises(json_format.ParseError):
        json_format.ParseDict(payload, _message_class(name)())
    _, violations = rules.conform(name, payload)
    assert [str(v) for v in violations] == [
        "connected_account.authorization_details.static_auth: oneof details is already set "
        "(by oauth_token)"
    ]
