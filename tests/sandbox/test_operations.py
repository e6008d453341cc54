"""The operations layer on its own: the interface every face (REST, gRPC) calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scalekit_cli.sandbox import SandboxSettings, operations, protos
from scalekit_cli.sandbox.contract import openapi_document
from scalekit_cli.sandbox.engine import AccountKey, SandboxEngine
from scalekit_cli.sandbox.errors import ApiError

ACCOUNTS = operations.CONNECTED_ACCOUNTS
CONTEXT = operations.CallContext(base_url="http://sandbox.test")


@pytest.fixture
def engine() -> Iterator[SandboxEngine]:
    made = SandboxEngine(SandboxSettings())
    yield made
    made.close()


def test_the_operations_are_the_documents_23() -> None:
    documented = {
        (method.upper(), path)
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch"}
    }
    served = {
        (binding["method"], binding["path"])
        for rpc in operations.OPERATIONS
        for binding in protos.route_table()[rpc]["http"]
        if binding["documented"]
    }
    assert served == documented and len(served) == 23
    for rpc, operation in operations.OPERATIONS.items():
        assert operation.rpc == rpc
        assert operation.request == protos.route_table()[rpc]["request"]
        assert operation.response == protos.route_table()[rpc]["response"]


def test_run_takes_and_gives_the_proto_json_mapping(engine: SandboxEngine) -> None:
    created = operations.run(
        engine,
        f"{ACCOUNTS}/CreateConnectedAccount",
        {"connector": "gmail", "identifier": "op-user", "connected_account": {}, "x": 1},
        CONTEXT,
    )
    account = created["connected_account"]
    assert account["status"] == "PENDING_AUTH" and account["id"].startswith("ca_")
    link = operations.run(
        engine,
        f"{ACCOUNTS}/GetMagicLinkForConnectedAccount",
        {"id": account["id"]},
        CONTEXT,
    )
    assert link["link"].startswith("http://sandbox.test/magic/")
    # Numbers may come as strings (protojson's int64 spelling, and a gRPC face's).
    listed = operations.run(
        engine, f"{ACCOUNTS}/ListConnectedAccounts", {"page_size": "5"}, CONTEXT
    )
    assert [a["id"] for a in listed["connected_accounts"]] == [account["id"]]


def test_run_refuses_a_breach_before_the_handler(engine: SandboxEngine) -> None:
    with pytest.raises(ApiError) as caught:
        operations.run(
            engine,
            f"{ACCOUNTS}/CreateConnectedAccount",
            {"connector": "gmail", "identifier": "x" * 101},
            CONTEXT,
        )
    error = caught.value
    assert (error.code, error.http_status) == (3, 400)
    assert error.message == (
        "identifier: must be at most 100 characters; connected_account: value is required"
    )
    assert [v.rule_id for v in error.field_violations] == ["string.max_len", "required"]
    listed = operations.run(engine, f"{ACCOUNTS}/ListConnectedAccounts", {}, CONTEXT)
    assert listed["connected_accounts"] == []  # the handler never ran


def test_an_rpc_outside_the_table_is_unimplemented(engine: SandboxEngine) -> None:
    with pytest.raises(ApiError) as caught:
        operations.run(engine, f"{ACCOUNTS}/ListMyAppConnections", {}, CONTEXT)
    assert caught.value.code == 12


def _response_class(name: str):
    from google.protobuf import descriptor_pool, message_factory
    from google.protobuf.descriptor_pb2 import FileDescriptorSet

    from scalekit_cli.sandbox.contract import descriptor_set_bytes

    pool = descriptor_pool.DescriptorPool()
    for proto in FileDescriptorSet.FromString(descriptor_set_bytes()).file:
        pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))


def test_every_answer_is_its_response_message(engine: SandboxEngine) -> None:
    """What a handler returns parses, field for field, into the RPC's response message (what
    a gRPC face sends), with nothing left over."""
    from google.protobuf import json_format

    tools = operations.TOOLS
    mcp = operations.MCP
    providers = operations.PROVIDERS
    engine.create_account(
        AccountKey(connector="gmail", identifier="all"),
        {"oauth_token": {"access_token": "a", "refresh_token": "r", "scopes": ["s"]}},
    )
    calls = [
        (
            f"{ACCOUNTS}/CreateConnectedAccount",
            {
                "connector": "slack",
                "identifier": "all",
                "connected_account": {"api_config": {"a": 1}},
            },
        ),
        (
            f"{ACCOUNTS}/UpdateConnectedAccount",
            {"connector": "slack", "identifier": "all", "connected_account": {}},
        ),
        (f"{ACCOUNTS}/GetConnectedAccountAuth", {"connector": "gmail", "identifier": "all"}),
        (f"{ACCOUNTS}/GetConnectedAccountDetails", {"connector": "gmail", "identifier": "all"}),
        (f"{ACCOUNTS}/ListConnectedAccounts", {"page_size": 1}),
        (f"{ACCOUNTS}/SearchConnectedAccounts", {"query": "all"}),
        (
            f"{ACCOUNTS}/GetMagicLinkForConnectedAccount",
            {"connector": "gmail", "identifier": "all"},
        ),
        (f"{tools}/ListTools", {"page_size": 2}),
        (f"{tools}/ListTools", {"filter": {"summary": True}}),
        (f"{tools}/ListScopedTools", {"identifier": "all", "filter": {"providers": ["GOOGLE"]}}),
        (f"{tools}/ListAvailableTools", {"identifier": "all", "page_size": 1}),
        (
            f"{tools}/ExecuteTool",
            {"tool_name": "gmail_get_profile", "connector": "gmail", "identifier": "all"},
        ),
        (
            f"{mcp}/CreateMcpConfig",
            {
                "config": {
                    "name": "every",
                    "connection_tool_mappings": [{"connection_name": "gmail"}],
                }
            },
        ),
        (f"{mcp}/ListMcpConfigs", {}),
        (
            f"{providers}/CreateCustomProvider",
            {
                "provider": {
                    "display_name": "Every",
                    "auth_patterns": [],
                    "proxy_url": "https://e.x",
                    "metadata": {"key": "value"},
                }
            },
        ),
        (
            f"{providers}/UpdateCustomProvider",
            {
                "identifier": "every",
                "provider": {
                    "display_name": "Every",
                    "auth_patterns": [],
                    "proxy_url": "https://e.x",
                },
            },
        ),
    ]
    answers = {}
    for rpc, payload in calls:
        answer = operations.run(engine, rpc, payload, CONTEXT)
        answers[rpc] = answer
        json_format.ParseDict(answer, _response_class(operations.OPERATIONS[rpc].response)())
    config_id = answers[f"{mcp}/CreateMcpConfig"]["config"]["id"]
    for rpc, payload in [
        (f"{mcp}/GetMcpConfig", {"config_id": config_id}),
        (f"{mcp}/UpdateMcpConfig", {"config_id": config_id, "description": "d"}),
        (
            f"{mcp}/UpdateMcpConfig",
            {"config_id": config_id, "connection_tool_mappings": [{"connection_name": "gmail"}]},
        ),
        (
            f"{mcp}/ListMcpConnectedAccounts",
            {"config_id": config_id, "identifier": "all", "include_auth_link": True},
        ),
        (f"{mcp}/CreateMcpSessionToken", {"mcp_config_id": config_id, "identifier": "all"}),
        (f"{mcp}/DeleteMcpConfig", {"config_id": config_id}),
        (f"{providers}/DeleteCustomProvider", {"identifier": "every"}),
        (f"{ACCOUNTS}/DeleteConnectedAccount", {"connector": "slack", "identifier": "all"}),
    ]:
        answer = operations.run(engine, rpc, payload, CONTEXT)
        json_format.ParseDict(answer, _response_class(operations.OPERATIONS[rpc].response)())
