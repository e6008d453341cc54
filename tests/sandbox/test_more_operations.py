"""The operations beyond the mission's path: accounts search, scoped and available tools, MCP
configurations with their accounts and session tokens, custom providers — and the
schemathesis findings (magic link by an unknown id, google_dwd / trusted_idp credentials).

Every answer is checked against the OpenAPI document's schema for its operation.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.conftest import LiveSandbox
from tests.contract.openapi import validate_response
from tests.sandbox.conftest import ACCOUNTS, Agent, assert_gateway_error

CONFIGS = "/api/v1/mcp/configs"
PROVIDERS = "/api/v1/custom-providers"


def checked(answer: httpx.Response, template: str, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    validate_response(answer.request.method, template, status, body)
    return body


def activate(agent: Agent, connector: str, identifier: str) -> dict[str, Any]:
    created = agent.http.post(
        ACCOUNTS,
        json={"connector": connector, "identifier": identifier, "connected_account": {}},
    )
    assert created.status_code in (201, 409), created.text
    agent.live.admin(
        "POST",
        "/_sandbox/accounts/status",
        json={"connector": connector, "identifier": identifier, "status": "ACTIVE"},
    )
    return agent.auth(connector, identifier)


# --- connected_accounts:search ---------------------------------------------------------------


def test_search_matches_identifier_connector_and_provider(agent: Agent) -> None:
    agent.create("gmail", "Alice@Example.com")
    agent.create("slack", "bob@example.com")
    agent.create("notion", "carol")

    def found(**params: Any) -> list[str]:
        body = checked(
            agent.http.get(f"{ACCOUNTS}:search", params=params),
            f"{ACCOUNTS}:search",
            200,
        )
        return sorted(a["identifier"] for a in body["connected_accounts"])

    assert found(query="alice") == ["Alice@Example.com"]  # case-insensitive
    assert found(query="SLACK") == ["bob@example.com"]  # the connector
    assert found(query="google") == ["Alice@Example.com"]  # the provider
    assert found(query="example.com") == ["Alice@Example.com", "bob@example.com"]
    gmail_id = agent.create("gmail", "dave@example.com")["connection_id"]
    assert found(query="example", connection_id=gmail_id) == [
        "Alice@Example.com",
        "dave@example.com",
    ]
    first = checked(
        agent.http.get(f"{ACCOUNTS}:search", params={"query": "example", "page_size": 2}),
        f"{ACCOUNTS}:search",
        200,
    )
    assert len(first["connected_accounts"]) == 2 and first["total_size"] == 3
    rest = agent.http.get(
        f"{ACCOUNTS}:search",
        params={"query": "example", "page_size": 2, "page_token": first["next_page_token"]},
    ).json()
    assert len(rest["connected_accounts"]) == 1
    for params in ({"query": "al"}, {"query": "alice", "page_size": 31}, {}):
        assert_gateway_error(agent.http.get(f"{ACCOUNTS}:search", params=params), 400, 3)


# --- tools/scoped and tools/available --------------------------------------------------------


def test_scoped_tools_are_those_of_the_users_active_accounts(agent: Agent) -> None:
    account = activate(agent, "gmail", "scoped-user")
    agent.create("slack", "scoped-user")  # PENDING_AUTH: nothing bound yet
    body = checked(
        agent.http.get(
            "/api/v1/tools/scoped",
            params={"identifier": "scoped-user", "filter.providers": "GOOGLE"},
        ),
        "/api/v1/tools/scoped",
        200,
    )
    assert body["tools"], body
    for scoped in body["tools"]:
        assert scoped["identifier"] == "scoped-user"
        assert scoped["connected_account_id"] == account["id"]
        assert scoped["tool"]["provider"] == "GOOGLE"
        assert scoped["tool"]["definition"]["name"].startswith("gmail_")
    names = agent.http.get(
        "/api/v1/tools/scoped",
        params={"identifier": "scoped-user", "filter.tool_names": "gmail_fetch_mails"},
    ).json()
    assert [t["tool"]["definition"]["name"] for t in names["tools"]] == ["gmail_fetch_mails"]
    slack_only = agent.http.get(
        "/api/v1/tools/scoped",
        params={"identifier": "scoped-user", "filter.connection_names": "slack"},
    ).json()
    assert slack_only["tools"] == [] and slack_only["total_size"] == 0
    # ListScopedToolsRequest.filter is required (a field rule).
    missing = agent.http.get("/api/v1/tools/scoped", params={"identifier": "scoped-user"})
    assert_gateway_error(missing, 400, 3)
    assert missing.json()["message"] == "filter: value is required"


def test_available_tools_are_the_whole_candidate_set(agent: Agent) -> None:
    everything = agent.http.get("/api/v1/tools", params={"page_size": 100}).json()
    available = checked(
        agent.http.get(
            "/api/v1/tools/available", params={"identifier": "nobody-yet", "page_size": 100}
        ),
        "/api/v1/tools/available",
        200,
    )
    assert [t["id"] for t in available["tools"]] == [t["id"] for t in everything["tools"]]
    paged = agent.http.get(
        "/api/v1/tools/available", params={"identifier": "nobody-yet", "page_size": 2}
    ).json()
    assert len(paged["tools"]) == 2 and paged["next_page_token"]
    assert_gateway_error(agent.http.get("/api/v1/tools/available"), 400, 3)


# --- MCP configurations ------------------------------------------------------------------------


def _jwt_claims(token: str, public_numbers: tuple[int, int]) -> dict[str, Any]:
    """Verify an RS256 JWT with `cryptography` (not the sandbox's own code)."""
    header_b64, payload_b64, signature_b64 = token.split(".")

    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    assert json.loads(decode(header_b64))["alg"] == "RS256"
    n, e = public_numbers
    key = rsa.RSAPublicNumbers(e, n).public_key()
    key.verify(
        decode(signature_b64),
        f"{header_b64}.{payload_b64}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    return json.loads(decode(payload_b64))


def test_mcp_configuration_lifecycle(agent: Agent, sandbox: LiveSandbox) -> None:
    mappings = [
        {"connection_name": "gmail", "tools": ["gmail_fetch_mails"]},
        {"connection_name": "slack", "tools": []},
    ]
    created = checked(
        agent.http.post(
            CONFIGS,
            json={
                "name": "daily-summary",
                "description": "d",
                "connection_tool_mappings": mappings,
            },
        ),
        CONFIGS,
        201,
    )["config"]
    config_id = created["id"]
    assert created["name"] == "daily-summary"
    gmail = created["connection_tool_mappings"][0]
    assert gmail["provider"] == "GOOGLE" and gmail["connection_id"].startswith("conn_")
    assert gmail["tools"] == ["gmail_fetch_mails"]

    fetched = checked(agent.http.get(f"{CONFIGS}/{config_id}"), f"{CONFIGS}/{{config_id}}", 200)
    assert fetched["config"] == created
    for params, expected in (
        ({"filter.name": "DAILY-SUMMARY"}, [config_id]),  # case-insensitive exact
        ({"filter.name": "daily"}, []),
        ({"search": "dai"}, [config_id]),  # look-ahead on the name
        ({"filter.provider": "slack"}, [config_id]),
        ({"filter.provider": "notion"}, []),
        ({"filter.id": config_id}, [config_id]),
    ):
        listed = checked(agent.http.get(CONFIGS, params=params), CONFIGS, 200)
        assert [c["id"] for c in listed["configs"]] == expected, params

    duplicate = agent.http.post(CONFIGS, json={"name": "daily-summary"})
    assert_gateway_error(duplicate, 409, 6)
    unknown = agent.http.post(
        CONFIGS, json={"name": "other", "connection_tool_mappings": [{"connection_name": "x"}]}
    )
    assert_gateway_error(unknown, 400, 3)
    bad_tool = agent.http.post(
        CONFIGS,
        json={
            "name": "other",
            "connection_tool_mappings": [{"connection_name": "gmail", "tools": ["slack_x"]}],
        },
    )
    assert_gateway_error(bad_tool, 400, 3)

    # Accounts: without include_auth_link nothing is created.
    states = checked(
        agent.http.post(f"{CONFIGS}/{config_id}/connected_accounts", json={"identifier": "mia"}),
        f"{CONFIGS}/{{config_id}}/connected_accounts",
        200,
    )["connected_accounts"]
    assert [s["connection_name"] for s in states] == ["gmail", "slack"]
    assert all("connected_account_id" not in s and not s.get("authentication_link") for s in states)
    with_links = agent.http.post(
        f"{CONFIGS}/{config_id}/connected_accounts",
        json={"identifier": "mia", "include_auth_link": True},
    ).json()["connected_accounts"]
    assert all("/magic/" in s["authentication_link"] for s in with_links)
    assert {s["connected_account_status"] for s in with_links} == {"PENDING_AUTH"}

    # A session token needs an ACTIVE account on every mapped connection.
    tokens = f"{CONFIGS}/{config_id}/tokens"
    refused = agent.http.post(tokens, json={"identifier": "mia"})
    assert refused.status_code == 400, refused.text
    for connector in ("gmail", "slack"):
        activate(agent, connector, "mia")
    minted = checked(
        agent.http.post(tokens, json={"identifier": "mia", "expiry": "120s"}),
        "/api/v1/mcp/configs/{mcp_config_id}/tokens",
        200,
    )
    key = sandbox.engine.mcp.signing_key()
    claims = _jwt_claims(minted["token"], (key.n, key.e))
    accounts = [a["id"] for a in (agent.auth("gmail", "mia"), agent.auth("slack", "mia"))]
    assert claims["sub"] == "mia" and claims["mcp_cfg"] == config_id
    assert claims["ca_ids"] == accounts
    assert claims["exp"] - claims["iat"] == 120
    for expiry in ("59s", "86401s"):
        assert_gateway_error(
            agent.http.post(tokens, json={"identifier": "mia", "expiry": expiry}), 400, 3
        )

    # Update replaces description and mappings (proto3 fields without presence).
    updated = checked(
        agent.http.put(
            f"{CONFIGS}/{config_id}",
            json={"description": "e", "connection_tool_mappings": [{"connection_name": "notion"}]},
        ),
        f"{CONFIGS}/{{config_id}}",
        200,
    )["config"]
    assert updated["description"] == "e" and updated["name"] == "daily-summary"
    assert [m["connection_name"] for m in updated["connection_tool_mappings"]] == ["notion"]

    assert agent.http.delete(f"{CONFIGS}/{config_id}").json() == {}
    for answer in (
        agent.http.get(f"{CONFIGS}/{config_id}"),
        agent.http.delete(f"{CONFIGS}/{config_id}"),
        agent.http.put(f"{CONFIGS}/{config_id}", json={}),
        agent.http.post(tokens, json={"identifier": "mia"}),
        agent.http.post(f"{CONFIGS}/{config_id}/connected_accounts", json={"identifier": "mia"}),
    ):
        assert_gateway_error(answer, 404, 5)


# --- custom providers --------------------------------------------------------------------------


def test_custom_provider_lifecycle(agent: Agent) -> None:
    body = {
        "display_name": "Acme CRM",
        "auth_patterns": [{"type": "OAUTH"}],
        "proxy_url": "https://crm.acme.example/api",
        "metadata": {"region": "eu-west"},
    }
    created = checked(agent.http.post(PROVIDERS, json=body), PROVIDERS, 201)["provider"]
    assert created["identifier"] == "acme_crm" and created["is_custom"] is True
    assert created["metadata"] == {"region": "eu-west"}
    again = agent.http.post(PROVIDERS, json=body).json()["provider"]
    assert again["identifier"] == "acme_crm_2"  # the system derives a free identifier

    change = {**body, "display_name": "Acme CRM Two", "description": "new"}
    change.pop("metadata")
    updated = checked(
        agent.http.put(f"{PROVIDERS}/acme_crm", json=change),
        f"{PROVIDERS}/{{identifier}}",
        200,
    )["provider"]
    assert updated["display_name"] == "Acme CRM Two" and updated["description"] == "new"
    assert updated["metadata"] == {"region": "eu-west"}  # not given: unchanged

    refused = agent.http.post(PROVIDERS, json={**body, "proxy_url": "http://plain.example"})
    assert_gateway_error(refused, 400, 3)
    assert refused.json()["message"] == (
        "provider.proxy_url: does not match regex pattern `^https://`"
    )
    assert agent.http.delete(f"{PROVIDERS}/acme_crm").json() == {}
    assert_gateway_error(agent.http.delete(f"{PROVIDERS}/acme_crm"), 404, 5)
    assert_gateway_error(agent.http.put(f"{PROVIDERS}/acme_crm", json=change), 404, 5)


# --- the schemathesis findings ---------------------------------------------------------------


def test_magic_link_with_an_unknown_id_and_an_existing_account(agent: Agent) -> None:
    existing = agent.create("gmail", "linked-twice")
    answer = agent.http.post(
        f"{ACCOUNTS}/magic_link",
        json={"id": "ca_123", "connector": "gmail", "identifier": "linked-twice"},
    )
    body = checked(answer, f"{ACCOUNTS}/magic_link", 200)
    assert "/magic/" in body["link"]
    listed = agent.http.get(ACCOUNTS, params={"identifier": "linked-twice"}).json()
    assert [a["id"] for a in listed["connected_accounts"]] == [existing["id"]]


def test_google_dwd_and_trusted_idp_credentials_are_stored_and_returned(agent: Agent) -> None:
    credentials = {
        "google_dwd": {
            "subject": "admin@acme.example",
            "access_token": "ya29.dwd-canary",
            "scopes": ["https://www.googleapis.com/auth/gmail.readonly"],
            "token_expires_at": "2026-12-02T00:00:00Z",
        },
        "trusted_idp": {
            "db_user": "reader",
            "access_key_id": "AKIA-canary",
            "secret_access_key": "secret-canary",
            "session_token": "session-canary",
            "expiry": "2026-12-02T00:00:00Z",
        },
    }
    for kind, details in credentials.items():
        created = agent.http.post(
            ACCOUNTS,
            json={
                "connector": "gmail",
                "identifier": f"{kind}-user",
                "connected_account": {"authorization_details": {kind: details}},
            },
        )
        account = checked(created, ACCOUNTS, 201)["connected_account"]
        assert account["authorization_details"] == {kind: details}
        assert agent.auth("gmail", f"{kind}-user")["authorization_details"] == {kind: details}
