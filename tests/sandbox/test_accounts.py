"""Connected accounts over HTTP: create, update, read, list, delete, and awkward identifiers."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalekit_cli.sandbox.engine import AccountKey
from tests.conftest import LiveSandbox
from tests.sandbox.conftest import ACCOUNTS, Agent, assert_gateway_error

FOR_LIST_FIELDS = {
    "id", "identifier", "connector", "provider", "authorization_type", "connection_id", "status",
    "token_expires_at", "last_used_at", "updated_at",
}  # fmt: skip
ACCOUNT_FIELDS = FOR_LIST_FIELDS | {"api_config", "authorization_details"}
RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z$")

AWKWARD = [
    "a+b@example.com",
    "with space",
    "a/b?c&d#e=f%20g",
    "Zoë 😀 名前",
    "  padded  ",
    "back\\slash;semi,comma'quote\"",
]


def test_create_answers_201_pending(agent: Agent) -> None:
    answer = agent.http.post(
        ACCOUNTS,
        json={"connector": "gmail", "identifier": "new@example.com", "connected_account": {}},
    )
    assert answer.status_code == 201
    account = answer.json()["connected_account"]
    assert set(account) <= ACCOUNT_FIELDS
    assert re.fullmatch(r"ca_\d{17}", account["id"])
    assert account["status"] == "PENDING_AUTH"
    assert account["provider"] == "GOOGLE" and account["authorization_type"] == "OAUTH"
    assert account["connection_id"].startswith("conn_")
    assert RFC3339_Z.match(account["updated_at"])
    assert "authorization_details" not in account and "token_expires_at" not in account


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"connector": "gmail"}, 400, 3),
        ({"identifier": "x"}, 400, 3),
        ({"connector": "gmail", "identifier": ""}, 400, 3),
        ({"connector": "gmail", "identifier": 7}, 400, 3),
        ({"connector": "nonesuch", "identifier": "x", "connected_account": {}}, 404, 5),
        ({"connector": "gmail", "identifier": "x", "connected_account": []}, 400, 3),
        (
            {
                "connector": "gmail",
                "identifier": "x",
                "connected_account": {"authorization_details": {"oauth_token": {"scopes": ["a"]}}},
            },
            400,
            3,
        ),
    ],
)
def test_create_errors(agent: Agent, body: dict, status: int, code: int) -> None:
    assert_gateway_error(agent.http.post(ACCOUNTS, json=body), status, code)


def test_create_with_an_empty_oauth_token_is_pending(agent: Agent) -> None:
    # The official Node SDK's getOrCreateConnectedAccount creates with `oauth_token: {}`.
    body = {
        "connector": "gmail",
        "identifier": "empty-token",
        "connected_account": {"authorization_details": {"oauth_token": {}}},
    }
    answer = agent.http.post(ACCOUNTS, json=body)
    assert answer.status_code == 201, answer.text
    account = answer.json()["connected_account"]
    assert account["status"] == "PENDING_AUTH"
    assert "authorization_details" not in account


def test_create_twice_is_409(agent: Agent) -> None:
    agent.create("gmail", "twice")
    again = agent.http.post(
        ACCOUNTS, json={"connector": "gmail", "identifier": "twice", "connected_account": {}}
    )
    assert_gateway_error(again, 409, 6)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_malformed_bodies_are_400(agent: Agent, raw: bytes) -> None:
    for method, path in (
        ("POST", ACCOUNTS),
        ("PUT", ACCOUNTS),
        ("POST", f"{ACCOUNTS}/magic_link"),
        ("POST", f"{ACCOUNTS}:delete"),
        ("POST", f"{ACCOUNTS}/user/verify"),
        ("POST", "/api/v1/execute_tool"),
    ):
        answer = agent.http.request(
            method, path, content=raw, headers={"content-type": "application/json"}
        )
        assert_gateway_error(answer, 400, 3)


def test_create_with_static_auth_and_unknown_fields_dropped(agent: Agent) -> None:
    account = agent.create(
        "exa",
        "keyed",
        connected_account={
            "authorization_details": {"static_auth": {"details": {"api_key": "k1"}}, "bogus": 1},
            "api_config": {"timeout": 30},
            "surprise": True,
        },
        misspelled_field="ignored",
    )
    assert account["status"] == "ACTIVE"
    assert account["authorization_details"] == {"static_auth": {"details": {"api_key": "k1"}}}
    assert account["api_config"] == {"timeout": 30}


def test_update_sets_credentials_and_merges_api_config(agent: Agent) -> None:
    created = agent.create("gmail", "upd@example.com", connected_account={"api_config": {"a": 1}})
    answer = agent.http.put(
        ACCOUNTS,
        json={
            "id": created["id"],
            "connected_account": {
                "authorization_details": {
                    "oauth_token": {
                        "access_token": "ya29.given",
                        "refresh_token": "1//r",
                        "scopes": ["s"],
                    }
                },
                "api_config": {"b": 2},
            },
        },
    )
    assert answer.status_code == 200
    account = answer.json()["connected_account"]
    assert account["status"] == "ACTIVE"
    assert account["api_config"] == {"a": 1, "b": 2}
    assert account["authorization_details"]["oauth_token"]["access_token"] == "ya29.given"
    assert "token_expires_at" in account
    assert agent.gmail("/profile", "ya29.given").status_code == 200
    missing = agent.http.put(
        ACCOUNTS, json={"connector": "gmail", "identifier": "ghost", "connected_account": {}}
    )
    assert_gateway_error(missing, 404, 5)
    assert_gateway_error(agent.http.put(ACCOUNTS, json={}), 400, 3)


def test_auth_and_details(agent: Agent) -> None:
    created = agent.connect("gmail", "both@example.com")
    details = agent.http.get(f"{ACCOUNTS}/details", params={"id": created["id"]}).json()
    assert "authorization_details" not in details["connected_account"]
    assert set(details["connected_account"]) <= ACCOUNT_FIELDS
    by_id = agent.http.get(f"{ACCOUNTS}/auth", params={"id": created["id"]}).json()
    assert by_id["connected_account"]["authorization_details"] == created["authorization_details"]
    for path in ("auth", "details"):
        assert_gateway_error(agent.http.get(f"{ACCOUNTS}/{path}", params={"id": "ca_0"}), 404, 5)
        assert_gateway_error(
            agent.http.get(f"{ACCOUNTS}/{path}", params={"connector": "gmail"}), 400, 3
        )


def test_magic_link_answer_and_errors(sandbox: LiveSandbox, agent: Agent) -> None:
    answer = agent.http.post(
        f"{ACCOUNTS}/magic_link", json={"connector": "gmail", "identifier": "linked@example.com"}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"link", "expiry"}
    assert body["link"].startswith(f"{sandbox.url}/magic/")
    assert RFC3339_Z.match(body["expiry"])
    assert agent.details("gmail", "linked@example.com")["status"] == "PENDING_AUTH"
    account_id = agent.details("gmail", "linked@example.com")["id"]
    by_id = agent.http.post(f"{ACCOUNTS}/magic_link", json={"id": account_id})
    assert by_id.status_code == 200 and by_id.json()["link"] != body["link"]
    bad = {"connector": "nonesuch", "identifier": "x"}
    assert_gateway_error(agent.http.post(f"{ACCOUNTS}/magic_link", json=bad), 400, 3)
    assert_gateway_error(agent.http.post(f"{ACCOUNTS}/magic_link", json={"id": "ca_0"}), 404, 5)
    assert_gateway_error(agent.http.post(f"{ACCOUNTS}/magic_link", json={}), 400, 3)
    wrong_type = {"connector": "gmail", "identifier": "x", "state": 5}
    assert_gateway_error(agent.http.post(f"{ACCOUNTS}/magic_link", json=wrong_type), 400, 3)


def test_delete(agent: Agent) -> None:
    created = agent.create("gmail", "gone")
    link = agent.magic_link("gmail", "gone")
    assert agent.http.post(f"{ACCOUNTS}:delete", json={"id": created["id"]}).json() == {}
    assert_gateway_error(agent.http.post(f"{ACCOUNTS}:delete", json={"id": created["id"]}), 404, 5)
    assert_gateway_error(agent.http.post(f"{ACCOUNTS}:delete", json={}), 400, 3)
    assert agent.browser.get(link).status_code == 404  # its links went with it


@pytest.mark.parametrize("identifier", AWKWARD)
def test_awkward_identifiers_round_trip(agent: Agent, identifier: str) -> None:
    created = agent.create("gmail", identifier)
    assert created["identifier"] == identifier
    assert agent.details("gmail", identifier)["id"] == created["id"]
    listed = agent.http.get(ACCOUNTS, params={"identifier": identifier}).json()
    assert [a["id"] for a in listed["connected_accounts"]] == [created["id"]]
    link = agent.magic_link("gmail", identifier)
    assert agent.decide(link).status_code == 200
    assert agent.auth("gmail", identifier)["status"] == "ACTIVE"


def test_identifiers_are_matched_byte_for_byte(agent: Agent) -> None:
    composed, decomposed = "Zo\u00eb", "Zoe\u0301"
    agent.create("gmail", composed)
    agent.create("gmail", decomposed)
    agent.create("gmail", "zoë".upper())
    assert agent.details("gmail", composed)["identifier"] == composed
    assert agent.details("gmail", decomposed)["identifier"] == decomposed
    missing = agent.http.get(
        f"{ACCOUNTS}/details", params={"connector": "gmail", "identifier": "zoë"}
    )
    assert_gateway_error(missing, 404, 5)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    identifier=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)
)
def test_any_identifier_round_trips(agent: Agent, identifier: str) -> None:
    answer = agent.http.post(
        ACCOUNTS, json={"connector": "github", "identifier": identifier, "connected_account": {}}
    )
    assert answer.status_code in (201, 409)
    found = agent.http.get(
        f"{ACCOUNTS}/details", params={"connector": "github", "identifier": identifier}
    )
    assert found.json()["connected_account"]["identifier"] == identifier


def test_organizations_scope_accounts(agent: Agent) -> None:
    one = agent.create("gmail", "shared", organization_id="org_1")
    two = agent.create("gmail", "shared", organization_id="org_2")
    assert one["id"] != two["id"]
    scoped = agent.http.get(
        f"{ACCOUNTS}/details",
        params={"connector": "gmail", "identifier": "shared", "organization_id": "org_2"},
    )
    assert scoped.json()["connected_account"]["id"] == two["id"]
    listed = agent.http.get(ACCOUNTS, params={"organization_id": "org_1"}).json()
    assert [a["id"] for a in listed["connected_accounts"]] == [one["id"]]


def test_list_filters_and_shape(agent: Agent) -> None:
    agent.connect("gmail", "Alice@Example.com")
    agent.create("slack", "alice@example.com")
    agent.create("exa", "bob")
    listing = agent.http.get(ACCOUNTS).json()
    assert listing["total_size"] == 3
    for account in listing["connected_accounts"]:
        assert set(account) <= FOR_LIST_FIELDS  # never credentials
    assert "next_page_token" not in listing and "prev_page_token" not in listing

    def identifiers(**params) -> list[str]:
        answer = agent.http.get(ACCOUNTS, params=params)
        assert answer.status_code == 200, answer.text
        return [a["identifier"] for a in answer.json()["connected_accounts"]]

    assert identifiers(connector="slack") == ["alice@example.com"]
    assert identifiers(provider="google") == ["Alice@Example.com"]
    assert identifiers(provider="GOOGLE") == ["Alice@Example.com"]
    assert identifiers(query="ALICE@") == ["Alice@Example.com", "alice@example.com"]
    assert identifiers(query="SLACK") == ["alice@example.com"]  # the connector is searchable too
    assert identifiers(connection_names=["slack", "exa"]) == ["alice@example.com", "bob"]
    assert identifiers(identifier="alice@example.com", connector="gmail") == []
    combined = agent.http.get(
        ACCOUNTS, params={"connector": "gmail", "connection_names": ["slack"]}
    )
    assert_gateway_error(combined, 400, 3)


def test_list_pagination_over_many_accounts(sandbox: LiveSandbox, agent: Agent) -> None:
    engine = sandbox.engine
    for number in range(1000):
        engine.create_account(AccountKey(connector="gmail", identifier=f"user-{number:04d}"))
    seen: list[str] = []
    params: dict = {"page_size": 50}  # the rule: page_size < 100
    pages = 0
    while True:
        page = agent.http.get(ACCOUNTS, params=params).json()
        pages += 1
        assert page["total_size"] == 1000
        seen += [a["identifier"] for a in page["connected_accounts"]]
        if "next_page_token" not in page:
            break
        params["page_token"] = page["next_page_token"]
    assert pages == 20
    assert seen == [f"user-{number:04d}" for number in range(1000)]
    default = agent.http.get(ACCOUNTS).json()
    assert len(default["connected_accounts"]) == 10  # the document's "typically 10"
    second = agent.http.get(
        ACCOUNTS, params={"page_size": 10, "page_token": default["next_page_token"]}
    )
    back = agent.http.get(
        ACCOUNTS, params={"page_size": 10, "page_token": second.json()["prev_page_token"]}
    )
    assert back.json()["connected_accounts"] == default["connected_accounts"]
    filtered = agent.http.get(ACCOUNTS, params={"query": "user-09", "page_size": 30}).json()
    assert filtered["total_size"] == 100 and len(filtered["connected_accounts"]) == 30


@pytest.mark.parametrize(
    "params", [{"page_size": 101}, {"page_size": -1}, {"page_size": "ten"}, {"page_token": "!!"}]
)
def test_bad_paging_is_400(agent: Agent, params: dict) -> None:
    assert_gateway_error(agent.http.get(ACCOUNTS, params=params), 400, 3)
