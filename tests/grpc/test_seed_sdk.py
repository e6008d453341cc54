"""`sk sandbox serve --tls --seed examples/seed.toml` (the README's example) through the
official Python SDK, unmodified, over gRPC: agent code that names the dashboard's connection
(`connection_name="GMAIL"`) runs as written, and the seeded accounts and tools answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scalekit import ScalekitClient
from scalekit.common.exceptions import ScalekitBadRequestException
from scalekit.v1.tools.tools_pb2 import ScopedToolFilter

from tests.grpc.served import ServedSandbox, sdk_client, served_with_trust

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed.toml"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSandbox]:
    with served_with_trust(tmp_path_factory.mktemp("seeded"), "--seed", str(EXAMPLE)) as live:
        yield live


@pytest.fixture(scope="module")
def sdk(served: ServedSandbox) -> ScalekitClient:
    return sdk_client(served)


def test_seeded_accounts_through_the_sdk(sdk: ScalekitClient) -> None:
    actions = sdk.actions
    gmail = actions.get_connected_account(connection_name="GMAIL", identifier="default")
    account = gmail.connected_account
    assert (account.id, account.status, account.connector) == ("ca_0123456789", "ACTIVE", "GMAIL")
    assert account.authorization_details["oauth_token"]["access_token"]
    by_id = actions.get_connected_account(connected_account_id="ca_0123456789")
    assert by_id.connected_account.identifier == "default"

    listed = actions.list_connected_accounts(identifier="user_42").connected_accounts
    assert [(a.connector, a.status) for a in listed] == [("freshdesk-8", "PENDING_AUTH")]
    everyone = actions.list_connected_accounts().connected_accounts
    assert sorted(a.connector for a in everyone) == ["GMAIL", "freshdesk-8", "myapp"]


def test_seeded_tools_through_the_sdk(sdk: ScalekitClient) -> None:
    actions = sdk.actions
    names = sorted(tool.definition["name"] for tool in actions.list_tools().tools)
    assert names == [
        "c-myapp_create-doc",
        "c-myapp_fetch-docs",
        "gmail_fetch_mails",
        "gmail_get_profile",
    ]
    mails = actions.execute_tool(
        tool_input={"max_results": 2},
        tool_name="gmail_fetch_mails",
        identifier="default",
        connection_name="GMAIL",
    )
    assert len(mails.data["messages"]) == 2
    by_id = actions.execute_tool(
        tool_input={}, tool_name="gmail_get_profile", connected_account_id="ca_0123456789"
    )
    assert by_id.data["emailAddress"]
    docs = actions.execute_tool(
        tool_input={"query": "otters"},
        tool_name="c-myapp_fetch-docs",
        identifier="default",
        connection_name="myapp",
    )
    assert docs.data == {"documents": [{"title": "Docs for otters", "owner": "default"}]}
    with pytest.raises(ScalekitBadRequestException):  # the seed's schema requires `query`
        actions.execute_tool(
            tool_input={}, tool_name="c-myapp_fetch-docs", identifier="default",
            connection_name="myapp",
        )  # fmt: skip

    scoped, _call = sdk.tools.list_scoped_tools("default", filter=ScopedToolFilter())
    assert sorted(
        (s.tool.definition["name"], s.connected_account_id == "ca_0123456789") for s in scoped.tools
    ) == [
        ("c-myapp_create-doc", False),
        ("c-myapp_fetch-docs", False),
        ("gmail_fetch_mails", True),
        ("gmail_get_profile", True),
    ]
    found, _call = sdk.tools.search_tools("create a document", identifier="default", top_k=1)
    (hit,) = found.tools
    assert hit.name == "c-myapp_create-doc"
    assert [c.connection_name for c in hit.connections] == ["myapp"]
