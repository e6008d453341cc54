"""The official Python SDK's own AgentKit flows, unmodified, over gRPC + TLS against
`sk sandbox serve --tls --user-verification custom`: every step asserts on what the sandbox
answered (ids, identifiers, statuses, the tokens sent, error codes), and the REST face is
asked the same where it tells more than the absence of an exception.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from google.protobuf.wrappers_pb2 import BoolValue
from scalekit import ScalekitClient
from scalekit.actions.models.mcp_config import McpConfigConnectionToolMapping
from scalekit.common.exceptions import (
    ScalekitBadRequestException,
    ScalekitForbiddenException,
    ScalekitNotFoundException,
)
from scalekit.v1.mcp.mcp_pb2 import GetMcpConfigRequest
from scalekit.v1.tools.tools_pb2 import Filter, ScopedToolFilter, ToolReadinessState

from tests.grpc.served import ServedSandbox, sdk_client, served_with_trust

VERIFY_URL = "https://app.example/verify"
# Canaries: what the SDK sends must come back unchanged, and only where it was asked for.
ACCESS_TOKEN = "at-canary-Vq3Lm8Xw"
REFRESH_TOKEN = "rt-canary-Hp5Nc2Rz"
API_KEY = "exa-canary-Jk7Tb4Qs"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSandbox]:
    home = tmp_path_factory.mktemp("sdk-flows-tls")
    canaries = (ACCESS_TOKEN, REFRESH_TOKEN, API_KEY)
    with served_with_trust(home, "--user-verification", "custom", canaries=canaries) as live:
        yield live


@pytest.fixture(scope="module")
def sdk(served: ServedSandbox) -> ScalekitClient:
    return sdk_client(served)


def _oauth(access: str, refresh: str, scopes: list[str]) -> dict[str, Any]:
    return {"oauth_token": {"access_token": access, "refresh_token": refresh, "scopes": scopes}}


def _names(tools: Any) -> list[str]:
    return [tool.definition["name"] for tool in tools]


def test_accounts_with_tokens_and_static_credentials(
    served: ServedSandbox, sdk: ScalekitClient
) -> None:
    actions = sdk.actions
    user = "flows-accounts@example.com"

    oauth = actions.create_connected_account(
        connection_name="gmail",
        identifier=user,
        authorization_details=_oauth(ACCESS_TOKEN, REFRESH_TOKEN, ["gmail.readonly"]),
    ).connected_account
    assert oauth.id and oauth.id.startswith("ca_")
    assert (oauth.identifier, oauth.connector, oauth.provider) == (user, "gmail", "GOOGLE")
    assert (oauth.status, oauth.authorization_type) == ("ACTIVE", "OAUTH")
    assert oauth.authorization_details == _oauth(ACCESS_TOKEN, REFRESH_TOKEN, ["gmail.readonly"])
    rest = served.rest_account("gmail", user).json()["connected_account"]
    assert rest["id"] == oauth.id
    assert rest["authorization_details"]["oauth_token"]["access_token"] == ACCESS_TOKEN

    static = actions.create_connected_account(
        connection_name="exa",
        identifier=user,
        authorization_details={"static_auth": {"api_key": API_KEY}},
    ).connected_account
    assert static.id and static.id != oauth.id
    assert (static.connector, static.provider) == ("exa", "EXA")
    assert (static.status, static.authorization_type) == ("ACTIVE", "API_KEY")
    assert static.authorization_details == {"static_auth": {"api_key": API_KEY}}

    # Updates replace the credentials and keep the account.
    scopes = ["gmail.readonly", "gmail.send"]
    updated = actions.update_connected_account(
        connection_name="gmail",
        identifier=user,
        authorization_details=_oauth("at-rotated", "rt-rotated", scopes),
    ).connected_account
    assert updated.id == oauth.id
    assert updated.authorization_details == _oauth("at-rotated", "rt-rotated", scopes)
    rekeyed = actions.update_connected_account(
        connection_name="exa",
        identifier=user,
        authorization_details={"static_auth": {"api_key": "exa-rotated"}},
    ).connected_account
    assert rekeyed.id == static.id
    assert rekeyed.authorization_details == {"static_auth": {"api_key": "exa-rotated"}}

    # get_or_create with credentials on an existing account: the SDK's upsert, same account.
    upserted = actions.upsert_connected_account(
        connection_name="gmail",
        identifier=user,
        authorization_details=_oauth("at-rotated", "rt-rotated", scopes),
    ).connected_account
    assert upserted.id == oauth.id

    by_key = actions.get_connected_account(connection_name="gmail", identifier=user)
    by_id = actions.get_connected_account(connected_account_id=oauth.id)
    for fetched in (by_key.connected_account, by_id.connected_account):
        assert (fetched.id, fetched.identifier, fetched.status) == (oauth.id, user, "ACTIVE")
        assert fetched.authorization_details == _oauth("at-rotated", "rt-rotated", scopes)
    details = actions.get_connected_account_details(connected_account_id=static.id)
    assert (details.connected_account.id, details.connected_account.connector) == (
        static.id,
        "exa",
    )
    assert details.connected_account.authorization_details is None  # no secret in details

    def listed(**filters: Any) -> list[tuple[str | None, str | None, str | None]]:
        answer = actions.list_connected_accounts(**filters)
        assert (answer.total_count or 0) == len(answer.connected_accounts)
        return [(a.connector, a.identifier, a.status) for a in answer.connected_accounts]

    both = [("gmail", user, "ACTIVE"), ("exa", user, "ACTIVE")]
    assert listed(identifier=user) == both
    assert listed(identifier=user, connection_name="exa") == [("exa", user, "ACTIVE")]
    assert listed(identifier=user, provider="GOOGLE") == [("gmail", user, "ACTIVE")]
    assert listed(identifier=user, connection_names=["exa", "gmail"]) == both
    assert listed(identifier="nobody-listed") == []
    # (ListConnectedAccountsRequest has no status filter: statuses are asserted above.)

    actions.delete_connected_account(connected_account_id=static.id)
    actions.delete_connected_account(connection_name="gmail", identifier=user)
    for gone in ({"connected_account_id": static.id}, {"connection_name": "gmail"}):
        with pytest.raises(ScalekitNotFoundException) as missing:
            actions.get_connected_account(identifier=user, **gone)
        assert missing.value.error_code == "CONNECTED_ACCOUNT_NOT_FOUND"
    assert listed(identifier=user) == []
    assert served.rest_account("gmail", user).status_code == 404


def _allow_in_browser(served: ServedSandbox, link: str) -> str:
    """Press Allow on the hosted page; returns where it sends the browser (the app's verify
    URL in custom user-verification mode)."""
    with httpx.Client(verify=served.verify(), follow_redirects=False) as browser:
        assert browser.get(link).status_code == 200
        answer = browser.post(link, data={"decision": "allow"})
    assert answer.status_code in (302, 303), answer.text
    return answer.headers["location"]


def test_magic_link_with_state_and_user_verification(
    served: ServedSandbox, sdk: ScalekitClient
) -> None:
    actions = sdk.actions
    user = "flows-verify@example.com"
    account = actions.get_or_create_connected_account(
        connection_name="slack", identifier=user
    ).connected_account
    assert (account.connector, account.status) == ("slack", "PENDING_AUTH")

    link = actions.get_authorization_link(
        connection_name="slack", identifier=user, state="state-Xy9", user_verify_url=VERIFY_URL
    )
    assert link.link.startswith(f"{served.url}/magic/")
    assert link.expiry and link.expiry > datetime.now(UTC).replace(tzinfo=None)

    by_id = actions.get_authorization_link(connected_account_id=account.id, state="state-Xy9")
    assert by_id.link.startswith(f"{served.url}/magic/") and by_id.link != link.link

    redirect = urlsplit(_allow_in_browser(served, link.link))
    assert f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == VERIFY_URL
    query = parse_qs(redirect.query)
    assert query["state"] == ["state-Xy9"]  # passed through untouched
    [auth_request_id] = query["auth_request_id"]
    waiting = actions.get_connected_account(connection_name="slack", identifier=user)
    assert waiting.connected_account.status != "ACTIVE"  # not before the app verifies

    with pytest.raises(ScalekitForbiddenException) as mismatch:
        actions.verify_connected_account_user(auth_request_id=auth_request_id, identifier="eve")
    assert mismatch.value.error_code == "IDENTIFIER_MISMATCH"
    verified = actions.verify_connected_account_user(
        auth_request_id=auth_request_id, identifier=user
    )
    assert verified.post_user_verify_redirect_url.startswith(served.url)
    active = actions.get_connected_account(connected_account_id=account.id).connected_account
    assert (active.id, active.status) == (account.id, "ACTIVE")
    assert active.authorization_details["oauth_token"]["access_token"]
    with pytest.raises(ScalekitNotFoundException) as reused:
        actions.verify_connected_account_user(auth_request_id=auth_request_id, identifier=user)
    assert reused.value.error_code == "AUTH_REQUEST_NOT_FOUND"


def test_tools_executed_listed_scoped_and_searched(
    served: ServedSandbox, sdk: ScalekitClient
) -> None:
    actions = sdk.actions
    user = "flows-tools@example.com"
    mail_token = f"{ACCESS_TOKEN}-tools"  # this test's own: the Gmail face finds the account by it
    gmail = actions.create_connected_account(
        connection_name="gmail",
        identifier=user,
        authorization_details=_oauth(mail_token, REFRESH_TOKEN, []),
    ).connected_account
    exa = actions.create_connected_account(
        connection_name="exa",
        identifier=user,
        authorization_details={"static_auth": {"api_key": API_KEY}},
    ).connected_account
    pending = actions.create_connected_account(connection_name="notion", identifier=user)
    assert pending.connected_account.status == "PENDING_AUTH"

    # By connector name and by account id: the same mailbox, as the REST face reads it.
    by_name = actions.execute_tool(
        tool_input={"max_results": 3},
        tool_name="gmail_fetch_mails",
        identifier=user,
        connection_name="gmail",
    )
    by_id = actions.execute_tool(
        tool_input={"max_results": 3}, tool_name="gmail_fetch_mails", connected_account_id=gmail.id
    )
    rest = served.rest(
        "POST",
        "/api/v1/execute_tool",
        json={"tool_name": "gmail_fetch_mails", "connected_account_id": gmail.id, "params": {}},
    ).json()
    ids = [message["id"] for message in by_name.data["messages"]]
    assert len(ids) == 3
    assert ids == [message["id"] for message in by_id.data["messages"]]
    assert ids == [message["id"] for message in rest["data"]["messages"]][:3]
    # The mailbox itself, through the Gmail API face with the token the account was given.
    with served.http() as client:
        mailbox = client.get(
            "/gmail/v1/users/me/messages",
            params={"maxResults": 3},
            headers={"authorization": f"Bearer {mail_token}"},
        )
    assert mailbox.status_code == 200, mailbox.text
    assert ids == [message["id"] for message in mailbox.json()["messages"]]
    assert by_name.execution_id and by_name.execution_id != by_id.execution_id
    searched = actions.execute_tool(
        tool_input={"query": "otters", "num_results": 2},
        tool_name="exa_search",
        connected_account_id=exa.id,
    )
    assert [r["title"] for r in searched.data["results"]] == [
        "otters — result 1",
        "otters — result 2",
    ]

    everything = served.rest("GET", "/api/v1/tools").json()["tools"]
    google = sorted(t["definition"]["name"] for t in everything if t["provider"] == "GOOGLE")
    assert sorted(_names(actions.list_tools(provider="GOOGLE").tools)) == google
    # summary: names only, in `tool_names` (the SDK's ListToolsResponse model drops that field,
    # so read the SDK's own proto answer).
    names_only, _call = sdk.tools.list_tools(
        filter=Filter(provider="EXA", summary=BoolValue(value=True))
    )
    assert (list(names_only.tool_names), len(names_only.tools)) == (["exa_search"], 0)
    # Filter.query: split on spaces and underscores, every token in the tool.
    assert _names(actions.list_tools(query="gmail fetch").tools) == ["gmail_fetch_mails"]
    with pytest.raises(ScalekitBadRequestException) as short:
        actions.list_tools(query="ab")  # 3-100 characters
    assert "query" in short.value.message
    picked = ["exa_search", "slack_send_message"]
    assert sorted(_names(actions.list_tools(tool_name=picked).tools)) == picked
    # Filtered by identifier: the tools of the identifier's accounts, whatever their status.
    of_user = ["exa_search", "gmail_fetch_mails", "gmail_get_profile", "notion_search_pages"]
    assert sorted(_names(actions.list_tools(identifier=user).tools)) == of_user

    # Naming one account (by id, or connection + identifier) lists tools as well.
    everything_names = sorted(t["definition"]["name"] for t in everything)
    assert sorted(_names(actions.list_tools(connected_account_id=exa.id).tools)) == (
        everything_names
    )
    assert _names(actions.list_tools(connection_name="gmail", identifier=user).tools) == [
        "gmail_fetch_mails",
        "gmail_get_profile",
    ]
    # Scoped to the identifier: the tools of its ACTIVE accounts, not the PENDING Notion one.
    scoped, _call = sdk.tools.list_scoped_tools(user, filter=ScopedToolFilter())
    accounts = {"gmail_fetch_mails": gmail.id, "gmail_get_profile": gmail.id, "exa_search": exa.id}
    found = {
        s.tool.definition["name"]: (s.identifier, s.connected_account_id) for s in scoped.tools
    }
    assert found == {name: (user, account) for name, account in accounts.items()}
    assert scoped.total_size == len(accounts)
    only_exa, _call = sdk.tools.list_scoped_tools(user, filter=ScopedToolFilter(providers=["EXA"]))
    assert [s.tool.definition["name"] for s in only_exa.tools] == ["exa_search"]
    # The descriptors make `filter` required; the SDK's default (None) leaves it out.
    with pytest.raises(ScalekitBadRequestException) as no_filter:
        sdk.tools.list_scoped_tools(user)
    assert "filter" in no_filter.value.message

    ranked, _call = sdk.tools.search_tools("search the web", top_k=3)
    assert [tool.name for tool in ranked.tools][:1] == ["exa_search"]
    assert len(ranked.tools) == 3
    scores = [tool.score for tool in ranked.tools]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0
    # With an identifier, each hit says whether that user's account can run it now.
    readiness = {}
    for query in ("search the web", "notion pages"):
        hits, _call = sdk.tools.search_tools(query, identifier=user, top_k=1)
        (hit,) = hits.tools
        (state,) = hit.connections
        readiness[hit.name] = (state.connected_account_id, state.readiness_state)
    assert readiness == {
        "exa_search": (exa.id, ToolReadinessState.TOOL_READINESS_STATE_READY),
        "notion_search_pages": (
            pending.connected_account.id,
            ToolReadinessState.TOOL_READINESS_STATE_NEEDS_CONNECTION,
        ),
    }


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_mcp_config_lifecycle_and_session_token(served: ServedSandbox, sdk: ScalekitClient) -> None:
    mcp = sdk.actions.mcp
    user = "flows-mcp@example.com"
    account = sdk.actions.create_connected_account(
        connection_name="gmail",
        identifier=user,
        authorization_details=_oauth(ACCESS_TOKEN, REFRESH_TOKEN, []),
    ).connected_account

    mapping = McpConfigConnectionToolMapping(connection_name="gmail", tools=["gmail_fetch_mails"])
    created = mcp.create_config(
        name="flows-agent", description="reads mail", connection_tool_mappings=[mapping]
    ).config
    assert created.id and created.id.startswith("cfg_")
    assert (created.name, created.description) == ("flows-agent", "reads mail")
    [stored] = created.connection_tool_mappings
    assert (stored.connection_name, stored.provider, stored.tools) == (
        "gmail",
        "GOOGLE",
        ["gmail_fetch_mails"],
    )
    assert stored.connection_id and stored.connection_id.startswith("conn_")

    # Python's ActionMcp has no get; the SDK's own McpService stub and call path do.
    got, _call = sdk.core_client.grpc_exec(
        sdk.mcp.mcp_service.GetMcpConfig.with_call, GetMcpConfigRequest(config_id=created.id)
    )
    assert (got.config.id, got.config.name) == (created.id, "flows-agent")
    listed = mcp.list_configs(filter_name="flows-agent")
    assert [config.id for config in listed.configs] == [created.id]
    assert mcp.list_configs(filter_name="no-such-config").configs == []

    both = [mapping, McpConfigConnectionToolMapping(connection_name="exa", tools=["exa_search"])]
    updated = mcp.update_config(
        created.id, description="reads mail and the web", connection_tool_mappings=both
    ).config
    assert (updated.id, updated.name, updated.description) == (
        created.id,
        "flows-agent",
        "reads mail and the web",
    )
    assert [m.connection_name for m in updated.connection_tool_mappings] == ["gmail", "exa"]
    with pytest.raises(ScalekitBadRequestException) as inactive:
        mcp.create_session_token(created.id, user)  # no Exa account for the user yet
    assert inactive.value.error_code == "CONNECTED_ACCOUNT_NOT_ACTIVE"
    states = mcp.list_mcp_connected_accounts(created.id, user).connected_accounts
    assert [
        (s.connection_name, s.connected_account_id, s.connected_account_status) for s in states
    ] == [
        ("gmail", account.id, "ACTIVE"),
        ("exa", None, None),  # no account yet: empty on the wire
    ]
    assert all(s.authentication_link is None for s in states)
    linked = mcp.list_mcp_connected_accounts(created.id, user, include_auth_link=True)
    links = [s.authentication_link or "" for s in linked.connected_accounts]
    assert len(links) == 2 and all(link.startswith(f"{served.url}/magic/") for link in links)

    mcp.update_config(created.id, connection_tool_mappings=[mapping])
    session = mcp.create_session_token(created.id, user, expiry=timedelta(minutes=10))
    assert session.token and session.expires_at
    claims = _claims(session.token)
    assert (claims["sub"], claims["mcp_cfg"], claims["ca_ids"]) == (user, created.id, [account.id])
    assert claims["exp"] - claims["iat"] == 600

    mcp.delete_config(created.id)
    assert mcp.list_configs(filter_name="flows-agent").configs == []
    with pytest.raises(ScalekitNotFoundException):
        sdk.core_client.grpc_exec(
            sdk.mcp.mcp_service.GetMcpConfig.with_call, GetMcpConfigRequest(config_id=created.id)
        )
    assert served.rest("GET", f"/api/v1/mcp/configs/{created.id}").status_code == 404


def test_app_connections(served: ServedSandbox, sdk: ScalekitClient) -> None:
    everything, _call = sdk.connection.list_app_connections()
    rest = served.rest("GET", "/api/v1/connections/app").json()["connections"]
    assert [c.key_id for c in everything.connections] == [c["key_id"] for c in rest]
    assert [c.id for c in everything.connections] == [c["id"] for c in rest]
    google, _call = sdk.connection.list_app_connections(provider="GOOGLE")
    assert [c.key_id for c in google.connections] == ["gmail", "googlecalendar"]
    assert google.total_size == 2
    assert all(c.provider_key == "GOOGLE" and c.enabled for c in google.connections)
