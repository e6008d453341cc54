"""The official Python SDK over TLS calling the RPCs the sandbox serves beyond the seeds' flow:
providers, MCP configurations and instances through their lifecycle, and (through the SDK's
own generated stubs and channel) connected accounts by id, disconnect and MCP definitions.
Each answer is held against the REST face's for the same state."""

from __future__ import annotations

import pytest
from scalekit import ScalekitClient
from scalekit.common.exceptions import ScalekitBadRequestException, ScalekitNotFoundException

from scalekit_cli.sandbox.hosted_form import approve_as_browser
from tests.grpc import test_python_sdk
from tests.grpc.served import ServedSandbox

# The TLS sandbox and the SDK pointed at it, as the seeds' flow has them (one per module).
served = test_python_sdk.served
sdk = test_python_sdk.sdk


def test_list_providers_through_the_sdk(served: ServedSandbox, sdk: ScalekitClient) -> None:
    from scalekit.actions.models.requests.list_providers_request import ListProvidersRequest
    from scalekit.v1.providers.providers_pb2 import ProviderType

    providers = sdk.actions.providers
    built_in = providers.list_providers(ListProvidersRequest())
    assert [p.identifier for p in built_in.providers] == [
        "GOOGLE",
        "SLACK",
        "NOTION",
        "GITHUB",
        "EXA",
    ]
    assert built_in.total_size == 5
    created = served.rest(
        "POST",
        "/api/v1/custom-providers",
        json={
            "display_name": "Docs MCP",
            "proxy_url": "https://docs.example.com/mcp",
            "auth_patterns": [{"type": "BEARER"}],
        },
    )
    assert created.status_code == 201, created.text
    identifier = created.json()["provider"]["identifier"]
    try:
        custom = providers.list_providers(ListProvidersRequest(provider_type=ProviderType.CUSTOM))
        assert [(p.identifier, p.display_name) for p in custom.providers] == [
            (identifier, "Docs MCP")
        ]
        every = providers.list_providers(
            ListProvidersRequest(provider_type=ProviderType.ALL, page_size=5)
        )
        assert every.total_size == 6 and len(every.providers) == 5 and every.next_page_token
        one = providers.list_providers(ListProvidersRequest(identifier="EXA"))
        assert [p.identifier for p in one.providers] == ["EXA"]
        with pytest.raises(ScalekitBadRequestException):
            providers.list_providers(ListProvidersRequest(identifier="not allowed!"))
    finally:
        served.rest("DELETE", f"/api/v1/custom-providers/{identifier}")


def test_mcp_configs_and_instances_lifecycle_through_the_sdk(
    served: ServedSandbox,
    sdk: ScalekitClient,
) -> None:
    from scalekit.actions.models.mcp_config import McpConfigConnectionToolMapping

    mcp = sdk.actions.mcp
    user = "instance-user@example.com"
    mappings = [
        McpConfigConnectionToolMapping(connection_name="gmail", tools=["gmail_fetch_mails"]),
        McpConfigConnectionToolMapping(connection_name="slack", tools=[]),
    ]
    config = mcp.create_config(
        name="inbox-agent", description="mail and chat", connection_tool_mappings=mappings
    ).config
    chat = mcp.create_config(
        name="chat-agent",
        connection_tool_mappings=[McpConfigConnectionToolMapping(connection_name="slack")],
    ).config
    # an update replaces description and mappings both (proto3 fields without presence)
    updated = mcp.update_config(
        config_id=config.id, description="mail, chat", connection_tool_mappings=mappings
    ).config
    assert updated.description == "mail, chat"
    assert [m.connection_name for m in updated.connection_tool_mappings] == ["gmail", "slack"]
    assert [c.name for c in mcp.list_configs(search="inbox").configs] == ["inbox-agent"]

    instance = mcp.ensure_instance(config_name="inbox-agent", user_identifier=user).instance
    assert instance.id.startswith("inst_")
    assert (instance.name, instance.user_identifier) == ("inbox-agent", user)
    assert instance.config.id == config.id
    again = mcp.ensure_instance(config_name="inbox-agent", user_identifier=user).instance
    assert again.id == instance.id  # ensure is get-or-create
    rest = served.rest("GET", f"/api/v1/mcp/instances/{instance.id}").json()["instance"]
    assert rest["user_identifier"] == user

    # its auth state follows the user's accounts
    state = mcp.get_instance_auth_state(instance_id=instance.id).connections
    assert [(c.connection_name, c.connected_account_status) for c in state] == [
        ("gmail", None),  # no account yet
        ("slack", None),
    ]
    with_links = mcp.get_instance_auth_state(instance_id=instance.id, include_auth_links=True)
    gmail_link = with_links.connections[0].authentication_link
    assert gmail_link.startswith(f"{served.url}/magic/")
    assert "Connected" in approve_as_browser(gmail_link)
    state = {
        c.connection_name: c
        for c in mcp.get_instance_auth_state(instance_id=instance.id).connections
    }
    assert state["gmail"].connected_account_status == "ACTIVE"
    assert state["slack"].connected_account_status == "PENDING_AUTH"
    got = mcp.get_instance(instance_id=instance.id).instance
    gmail = got.config.connection_tool_mappings[0]
    assert (gmail.connection_name, gmail.connected_account_status) == ("gmail", "ACTIVE")
    assert gmail.connected_account_id == state["gmail"].connected_account_id

    listed = mcp.list_instances(filter_user_identifier=user)
    assert [i.id for i in listed.instances] == [instance.id]
    assert mcp.list_instances(filter_config_name="chat-agent").instances == []

    moved = mcp.update_instance(
        instance_id=instance.id, name="chat-only", config_name="chat-agent"
    ).instance
    assert (moved.name, moved.config.id) == ("chat-only", chat.id)
    assert [m.connection_name for m in moved.config.connection_tool_mappings] == ["slack"]

    mcp.delete_instance(instance_id=instance.id)
    with pytest.raises(ScalekitNotFoundException):
        mcp.get_instance(instance_id=instance.id)
    with pytest.raises(ScalekitNotFoundException):
        mcp.ensure_instance(config_name="no-such-config", user_identifier=user)
    with pytest.raises(ScalekitBadRequestException):  # the field rule (the action layer
        # refuses an empty name itself: its MCP client sends it)
        sdk.mcp.ensure_instance(name=None, config_name="", user_identifier=user)

    mcp.delete_config(config.id)
    mcp.delete_config(chat.id)
    assert mcp.list_configs(search="inbox").configs == []


def test_account_by_id_disconnect_and_mcp_definitions_over_grpc(
    served: ServedSandbox,
    sdk: ScalekitClient,
) -> None:
    """No SDK method calls these yet: the SDK's generated stubs on its own channel do."""
    from scalekit.v1.connected_accounts import connected_accounts_pb2 as accounts
    from scalekit.v1.connected_accounts.connected_accounts_pb2_grpc import (
        ConnectedAccountServiceStub,
    )
    from scalekit.v1.mcp import mcp_pb2
    from scalekit.v1.mcp.mcp_pb2_grpc import McpServiceStub

    core = sdk.core_client
    user = "byid-user@example.com"
    link = sdk.actions.get_authorization_link(connection_name="gmail", identifier=user).link
    assert "Connected" in approve_as_browser(link)
    account_id = sdk.actions.get_connected_account(
        connection_name="gmail", identifier=user
    ).connected_account.id

    stub = ConnectedAccountServiceStub(core.grpc_secure_channel)
    got, _ = core.grpc_exec(
        stub.GetConnectedAccount.with_call, accounts.GetConnectedAccountRequest(id=account_id)
    )
    assert (got.connected_account.id, got.connected_account.identifier) == (account_id, user)
    assert got.connected_account.status == accounts.ACTIVE
    gone, _ = core.grpc_exec(
        stub.DisconnectConnectedAccount.with_call,
        accounts.DisconnectConnectedAccountRequest(id=account_id),
    )
    assert gone.connected_account.status == accounts.DISCONNECTED
    rest = served.rest_account("gmail", user).json()["connected_account"]
    assert rest["status"] == "DISCONNECTED" and "authorization_details" not in rest
    with pytest.raises(ScalekitNotFoundException):
        core.grpc_exec(
            stub.GetConnectedAccount.with_call, accounts.GetConnectedAccountRequest(id="ca_1")
        )

    mcp_stub = McpServiceStub(core.grpc_secure_channel)
    request = mcp_pb2.CreateMcpRequest(
        mcp=mcp_pb2.Mcp(
            tool_mappings=[
                mcp_pb2.ToolMapping(connection_name="gmail", tool_names=["gmail_fetch_mails"])
            ],
            connected_account_identifier=user,
        )
    )
    created, _ = core.grpc_exec(mcp_stub.CreateMcp.with_call, request)
    assert created.mcp.id.startswith("res_")
    assert created.mcp.tool_mappings[0].status == "DISCONNECTED"  # follows the account
    listed, _ = core.grpc_exec(
        mcp_stub.ListMcp.with_call,
        mcp_pb2.ListMcpRequest(
            filter=mcp_pb2.ListMcpRequest.Filter(connected_account_identifier=user)
        ),
    )
    assert [m.id for m in listed.mcps] == [created.mcp.id]
    fetched, _ = core.grpc_exec(
        mcp_stub.GetMcp.with_call, mcp_pb2.GetMcpRequest(mcp_id=created.mcp.id)
    )
    assert fetched.mcp.connected_account_identifier == user
    core.grpc_exec(mcp_stub.DeleteMcp.with_call, mcp_pb2.DeleteMcpRequest(mcp_id=created.mcp.id))
    with pytest.raises(ScalekitNotFoundException):
        core.grpc_exec(mcp_stub.GetMcp.with_call, mcp_pb2.GetMcpRequest(mcp_id=created.mcp.id))
    with pytest.raises(ScalekitBadRequestException):  # tool_mappings: at least one
        core.grpc_exec(
            mcp_stub.CreateMcp.with_call,
            mcp_pb2.CreateMcpRequest(mcp=mcp_pb2.Mcp(connected_account_identifier=user)),
        )
