"""A seed applied to a live sandbox, asked over its REST face: tools bind to the app behind a
connection (two connections on one app each run their own), provider-wide seeded tools,
static credentials, fixed expiries, and `reset` back to the defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scalekit_cli.sandbox.seed import SeedError, apply_seed, load_seed, parse_seed
from scalekit_cli.sandbox.settings import default_connections
from tests.cli.conftest import SandboxDriver

SEED = {
    "version": 1,
    "environment": {"user_verification": "custom"},
    "connections": [
        {"name": "GMAIL", "provider": "GOOGLE", "authorization_type": "OAUTH", "app": "gmail"},
        {
            "name": "gmail-prod",
            "provider": "GOOGLE",
            "authorization_type": "OAUTH",
            "app": "gmail",
        },
        {"name": "zendesk-1", "provider": "ZENDESK", "authorization_type": "BASIC_AUTH"},
        {"name": "zendesk-2", "provider": "ZENDESK", "authorization_type": "BASIC_AUTH"},
    ],
    "tools": [
        {
            "provider": "ZENDESK",
            "name": "zendesk_count",
            "description": "Count tickets",
            "input_schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
            "result": {"count": "{{params.n}}", "where": "{{connection}}/{{identifier}}"},
        }
    ],
    "accounts": [
        {"connection": "GMAIL", "identifier": "u", "status": "ACTIVE", "id": "ca_1"},
        {
            "connection": "gmail-prod",
            "identifier": "u",
            "status": "EXPIRED",
            "id": "ca_2",
            "expires_at": "2027-01-01T00:00:00Z",
        },
        {
            "connection": "zendesk-2",
            "identifier": "u",
            "status": "ACTIVE",
            "static_credentials": {"username": "agent", "password": "pw"},
        },
    ],
}


@pytest.fixture
def seeded(sandbox, tmp_path: Path) -> SandboxDriver:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(SEED), encoding="utf-8")
    apply_seed(sandbox.engine, load_seed(path, default_connections()))
    return SandboxDriver(sandbox)


def _tools(driver: SandboxDriver, **params: str) -> list[tuple[str, str]]:
    answer = driver.api("GET", "/api/v1/tools", params=params).json()
    return sorted((t["definition"]["name"], t["metadata"]["connector"]) for t in answer["tools"])


def test_tools_bind_to_each_connection_of_their_app(seeded: SandboxDriver) -> None:
    assert _tools(seeded) == [
        ("gmail_fetch_mails", "GMAIL"),
        ("gmail_fetch_mails", "gmail-prod"),
        ("gmail_get_profile", "GMAIL"),
        ("gmail_get_profile", "gmail-prod"),
        ("zendesk_count", "zendesk-1"),
        ("zendesk_count", "zendesk-2"),
    ]
    assert _tools(seeded, **{"filter.connector": "gmail-prod"}) == [
        ("gmail_fetch_mails", "gmail-prod"),
        ("gmail_get_profile", "gmail-prod"),
    ]
    # By account id: the tool of that account's connection (gmail-prod's is EXPIRED).
    ran = seeded.api(
        "POST",
        "/api/v1/execute_tool",
        json={"tool_name": "gmail_get_profile", "connected_account_id": "ca_1", "params": {}},
    )
    assert ran.status_code == 200 and ran.json()["data"]["emailAddress"]
    expired = seeded.api(
        "POST",
        "/api/v1/execute_tool",
        json={"tool_name": "gmail_get_profile", "connected_account_id": "ca_2", "params": {}},
    )
    assert expired.status_code == 400
    assert "CONNECTED_ACCOUNT_NOT_ACTIVE" in expired.text


def test_provider_tools_static_credentials_and_expiry(seeded: SandboxDriver) -> None:
    ran = seeded.api(
        "POST",
        "/api/v1/execute_tool",
        json={
            "tool_name": "zendesk_count",
            "connector": "zendesk-2",
            "identifier": "u",
            "params": {"n": 7},
        },
    )
    assert ran.json()["data"] == {"count": 7, "where": "zendesk-2/u"}
    refused = seeded.api(
        "POST",
        "/api/v1/execute_tool",
        json={"tool_name": "zendesk_count", "connector": "zendesk-2", "identifier": "u",
              "params": {"n": "seven"}},
    )  # fmt: skip
    assert refused.status_code == 400
    static = seeded.account("zendesk-2", "u", credentials=True)
    assert static["authorization_details"]["static_auth"]["details"] == {
        "username": "agent",
        "password": "pw",
    }
    assert seeded.account("gmail-prod", "u")["token_expires_at"].startswith("2027-01-01T00:00:00")
    assert seeded.live.engine.settings.user_verification == "custom"


def test_reset_brings_back_the_defaults(seeded: SandboxDriver) -> None:
    seeded.live.admin("POST", "/_sandbox/reset")
    fresh = SandboxDriver(seeded.live)  # the reset revoked the machine token too
    names = {name for name, _ in _tools(fresh)}
    assert "exa_search" in names and "zendesk_count" not in names
    assert seeded.live.engine.settings.user_verification == "dashboard"


def test_a_seed_without_connections_keeps_the_defaults() -> None:
    seed = parse_seed(
        {
            "version": 1,
            "accounts": [{"connection": "slack", "identifier": "u", "status": "ACTIVE"}],
        },
        "s.toml",
        default_connections(),
    )
    assert seed.connections is None and seed.accounts[0].connection == "slack"
    with pytest.raises(SeedError) as bad:
        parse_seed({"version": 1, "tools": [{"name": "t"}]}, "s.toml", default_connections())
    assert bad.value.problems == [
        "s.toml: tools[0].input_schema: is required",
        "s.toml: tools[0]: give one of connection or provider",
    ]


def test_every_authorization_type_lists_as_a_connection(seeded: SandboxDriver) -> None:
    answer = seeded.api("GET", "/api/v1/connections/app")
    assert answer.status_code == 200, answer.text
    types = {c["key_id"]: c["type"] for c in answer.json()["connections"]}
    assert types["GMAIL"] == "OAUTH"
    assert types["zendesk-1"] == "BASIC"  # ConnectionType's spelling of BASIC_AUTH


def test_a_problem_stays_one_line_whatever_the_file_holds() -> None:
    with pytest.raises(SeedError) as bad:
        parse_seed(
            {"version": 1, "a\nb": 1, "environment": {"user_verification": "x\u202e\n"}},
            "s.toml",
            default_connections(),
        )
    assert bad.value.problems == [
        's.toml: "a\\nb": unknown key (known: accounts, connections, environment, tools, version)',
        's.toml: environment.user_verification: "x\\u202e\\n" is not one of dashboard, custom',
    ]
