"""Contract tests of the sandbox's AgentKit REST API, written from the vendor's documents.

Sources: the AgentKit OpenAPI document (`scalekit_cli/sandbox/contract/agentkit.openapi.json`)
and CONTRACT.md beside it; docs/architecture.md for the sandbox-only admin surface and the hosted
page's form. Every answer, error answers included, is validated strictly (no field the document
does not name), and every request the tests send is validated the same way first.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tests.conftest import LiveSandbox
from tests.contract.client import AgentKitClient, plain_client
from tests.contract.flows import connect, consent, consent_page_after, unpopulated
from tests.contract.formats import parse_rfc3339
from tests.contract.hosted_page import open_link, submit
from tests.contract.live import reset, start_shared
from tests.contract.openapi import grpc_code, validate_response

ACCOUNTS = "/api/v1/connected_accounts"
AUTH = "/api/v1/connected_accounts/auth"
DETAILS = "/api/v1/connected_accounts/details"
MAGIC_LINK = "/api/v1/connected_accounts/magic_link"
VERIFY = "/api/v1/connected_accounts/user/verify"
DELETE = "/api/v1/connected_accounts:delete"
EXECUTE = "/api/v1/execute_tool"
TOOLS = "/api/v1/tools"

GMAIL = "gmail"
FETCH_MAILS = "gmail_fetch_mails"
# CONTRACT.md, "Tools": the seeds' example input for gmail_fetch_mails.
FETCH_MAILS_PARAMS = {"query": "is:unread", "max_results": 5}

# The identifiers a CLI user may well type: reserved URL characters, spaces and non-ASCII.
AWKWARD_IDENTIFIERS = [
    "a+b@x.com",
    "with space",
    "a/b?c&d#e",
    "Zoë 😀",
    unicodedata.normalize("NFD", "Zoë decomposed"),
    "100%25 literal",
]


def api_key_connection(sandbox: Any) -> str:
    """The name of an API-key connection configured in the sandbox."""
    names = [c.name for c in sandbox.settings.connections if c.authorization_type == "API_KEY"]
    assert names, "the default sandbox settings should configure an API-key connection"
    return names[0]


def other_oauth_connection(sandbox: Any) -> str:
    names = [
        c.name
        for c in sandbox.settings.connections
        if c.authorization_type == "OAUTH" and c.name != GMAIL
    ]
    assert names, "the default sandbox settings should configure more than one OAuth connection"
    return names[0]


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[LiveSandbox]:
    live = start_shared()
    yield live
    live.stop()


@pytest.fixture
def sandbox(shared_sandbox: LiveSandbox) -> LiveSandbox:
    """Overrides the per-test sandbox: the module's shared one, emptied first."""
    return reset(shared_sandbox)


@pytest.fixture
def api(sandbox: Any) -> Iterator[AgentKitClient]:
    client = AgentKitClient(sandbox.url)
    client.login(sandbox.settings.client_id, sandbox.settings.client_secret)
    yield client
    client.close()


def client_for(live: Any) -> AgentKitClient:
    client = AgentKitClient(live.url)
    client.login(live.settings.client_id, live.settings.client_secret)
    return client


def expect_error(answer: Any, status: int, code: int) -> None:
    assert answer.status == status, f"expected {status}, got {answer.status}: {answer.body}"
    assert grpc_code(answer.body) == code, f"expected gRPC code {code}: {answer.body}"


# ---------------------------------------------------------------------------------------------
# Machine authentication: POST /oauth/token and the bearer token on every /api/v1 call
# ---------------------------------------------------------------------------------------------


def test_machine_token_answer_matches_contract(sandbox: Any) -> None:
    with AgentKitClient(sandbox.url) as client:
        body = client.login(sandbox.settings.client_id, sandbox.settings.client_secret)
    # CONTRACT.md: token_type "Bearer", expires_in 86399 (the setting's default).
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == sandbox.settings.machine_token_ttl == 86399


@pytest.mark.parametrize(
    "form",
    [
        {"client_secret": "not-the-secret"},
        {"client_id": "skc_someone_else"},
    ],
    ids=["wrong-secret", "unknown-client"],
)
def test_wrong_client_credentials_get_oauth_401(sandbox: Any, form: dict[str, str]) -> None:
    full = {
        "grant_type": "client_credentials",
        "client_id": sandbox.settings.client_id,
        "client_secret": sandbox.settings.client_secret,
        **form,
    }
    with AgentKitClient(sandbox.url) as client:
        answer = client.token_request(full)
    assert answer.status == 401, answer.body
    assert answer.body["error"] == "invalid_client"
    assert answer.body.get("error_description"), "CONTRACT.md shows an error_description"
    assert sandbox.settings.client_secret not in answer.response.text


def test_unsupported_grant_type_is_oauth_400(sandbox: Any) -> None:
    with AgentKitClient(sandbox.url) as client:
        answer = client.token_request(
            {
                "grant_type": "password",
                "client_id": sandbox.settings.client_id,
                "client_secret": sandbox.settings.client_secret,
            }
        )
    # RFC 6749 section 5.2: an unsupported grant type is 400 unsupported_grant_type.
    assert answer.status == 400, answer.body
    assert answer.body["error"] == "unsupported_grant_type"


# One call per /api/v1 operation the sandbox implements, each with a body the schema accepts.
PROTECTED_CALLS: list[tuple[str, str, dict[str, str] | None, dict[str, Any] | None]] = [
    ("GET", ACCOUNTS, None, None),
    ("POST", ACCOUNTS, None, {"connector": GMAIL, "identifier": "unauth-user"}),
    ("PUT", ACCOUNTS, None, {"connector": GMAIL, "identifier": "unauth-user"}),
    ("GET", AUTH, {"connector": GMAIL, "identifier": "unauth-user"}, None),
    ("GET", DETAILS, {"connector": GMAIL, "identifier": "unauth-user"}, None),
    ("POST", MAGIC_LINK, None, {"connector": GMAIL, "identifier": "unauth-user"}),
    ("POST", VERIFY, None, {"auth_request_id": "nope", "identifier": "unauth-user"}),
    ("POST", DELETE, None, {"connector": GMAIL, "identifier": "unauth-user"}),
    (
        "POST",
        EXECUTE,
        None,
        {"tool_name": FETCH_MAILS, "connector": GMAIL, "identifier": "unauth-user", "params": {}},
    ),
    ("GET", TOOLS, None, None),
]


@pytest.mark.parametrize("kind", ["missing", "unknown", "not-bearer", "expired", "revoked"])
def test_every_api_call_needs_a_valid_machine_token(sandbox_factory: Any, kind: str) -> None:
    live = sandbox_factory(machine_token_ttl=120)
    api = client_for(live)
    token: str | None = api.token  # valid until the kind below spoils it
    if kind == "missing":
        token = None
    elif kind == "unknown":
        token = "definitely-not-a-token"
    elif kind == "expired":
        live.admin("POST", "/_sandbox/clock", json={"advance_seconds": 121})
    elif kind == "revoked":
        live.admin("POST", "/_sandbox/machine_tokens/revoke")

    failures: list[str] = []
    for method, path, params, body in PROTECTED_CALLS:
        if kind == "not-bearer":
            # A well-formed header of another scheme carries no bearer token at all.
            response = api.http.request(
                method, path, params=params, json=body,
                headers={"Authorization": f"Basic {api.token}"},
            )  # fmt: skip
            validate_response(method, path, response.status_code, response.json())
            status, payload = response.status_code, response.json()
        else:
            answer = api.call(method, path, params=params, body=body, token=token)
            status, payload = answer.status, answer.body
        if status != 401 or payload.get("code") != 16:
            failures.append(f"{method} {path}: {status} {payload}")
    api.close()
    assert not failures, f"with a {kind} machine token, expected 401 code 16:\n" + "\n".join(
        failures
    )


def test_rejected_call_changes_nothing(sandbox: Any, api: AgentKitClient) -> None:
    answer = api.call(
        "POST", ACCOUNTS, body={"connector": GMAIL, "identifier": "ghost"}, token="bogus"
    )
    expect_error(answer, 401, 16)
    expect_error(
        api.call("GET", DETAILS, params={"connector": GMAIL, "identifier": "ghost"}), 404, 5
    )


def test_fresh_machine_token_works_after_expiry(sandbox_factory: Any) -> None:
    live = sandbox_factory(machine_token_ttl=120)
    with client_for(live) as api:
        live.admin("POST", "/_sandbox/clock", json={"advance_seconds": 121})
        expect_error(api.call("GET", ACCOUNTS), 401, 16)
        api.login(live.settings.client_id, live.settings.client_secret)
        api.expect(200, "GET", ACCOUNTS)


# ---------------------------------------------------------------------------------------------
# Connected accounts: create, update, read, list, delete
# ---------------------------------------------------------------------------------------------


def test_create_answers_201_with_a_pending_account(api: AgentKitClient) -> None:
    account = api.create(GMAIL, "user_123")
    # The schema's description: the id is "Always prefixed with 'ca_'".
    assert account["id"].startswith("ca_")
    assert account["connector"] == GMAIL
    assert account["identifier"] == "user_123"
    assert account["authorization_type"] == "OAUTH"
    # CONTRACT.md: PENDING_AUTH until the user finishes the hosted flow.
    assert account["status"] == "PENDING_AUTH"
    assert unpopulated(account.get("authorization_details"))
    assert not unpopulated(account.get("connection_id")), "an account links to its connection"
    assert not unpopulated(account.get("provider"))


def test_create_twice_is_409_code_6(api: AgentKitClient) -> None:
    api.create(GMAIL, "twice")
    body = {"connector": GMAIL, "identifier": "twice", "connected_account": {}}
    expect_error(api.call("POST", ACCOUNTS, body=body), 409, 6)


def test_create_for_unknown_connection_is_404_code_5(api: AgentKitClient) -> None:
    # An unknown connection is gRPC NOT_FOUND, which CONTRACT.md maps to 404. The operation
    # itself lists only 201/400/401/409, hence the explicit allowance (an open ambiguity).
    answer = api.call(
        "POST",
        ACCOUNTS,
        body={"connector": "no_such_connection", "identifier": "u1", "connected_account": {}},
        undocumented_ok=(404,),
    )
    expect_error(answer, 404, 5)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"connector": GMAIL},
        {"identifier": "someone"},
        {"connector": GMAIL, "identifier": ""},
        {"connector": "", "identifier": "someone"},
    ],
    ids=["empty", "no-identifier", "no-connector", "blank-identifier", "blank-connector"],
)
def test_create_without_connector_and_identifier_is_400(
    api: AgentKitClient, body: dict[str, str]
) -> None:
    expect_error(api.call("POST", ACCOUNTS, body={**body, "connected_account": {}}), 400, 3)


def test_create_without_connected_account_is_400_naming_the_rule(api: AgentKitClient) -> None:
    # CreateConnectedAccountRequest.connected_account is required (buf.validate).
    answer = api.call("POST", ACCOUNTS, body={"connector": GMAIL, "identifier": "bare"})
    expect_error(answer, 400, 3)
    assert answer.body["message"] == "connected_account: value is required"
    (violation,) = answer.body["details"][0]["validation_error_info"]["field_violations"]
    assert violation == {
        "field": "connected_account",
        "description": "value is required",
        "constraint": "required",
    }


def test_unknown_request_fields_are_discarded_silently(api: AgentKitClient) -> None:
    # CONTRACT.md: "The live service discards unknown request fields silently".
    body = {
        "connector": GMAIL,
        "identifier": "lenient",
        "connected_account": {},
        "connection_name": "slack",
        "x": 1,
    }
    answer = api.call("POST", ACCOUNTS, body=body, check_request=False)  # wrong on purpose
    assert answer.status == 201, answer.body
    assert answer.body["connected_account"]["connector"] == GMAIL


@pytest.mark.parametrize(
    "content",
    [b'{"connector": "gmail", "identifier": ', b'{"connector": 5, "identifier": "typed"}'],
    ids=["malformed-json", "wrong-type"],
)
def test_unreadable_body_is_400_code_3(api: AgentKitClient, content: bytes) -> None:
    # The operation's 400: "Invalid request - missing required fields ... or validation failed".
    response = api.http.post(
        ACCOUNTS,
        content=content,
        headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"},
    )
    validate_response("POST", ACCOUNTS, response.status_code, response.json())
    assert (response.status_code, response.json()["code"]) == (400, 3)


def test_create_with_credentials_stores_them(api: AgentKitClient) -> None:
    token = {"access_token": "ya29.given-token", "refresh_token": "1//given", "scopes": ["email"]}
    created = api.create(
        GMAIL,
        "with-creds",
        connected_account={"authorization_details": {"oauth_token": token}},
    )
    assert created["identifier"] == "with-creds"
    stored = api.auth(connector=GMAIL, identifier="with-creds")
    oauth = stored["authorization_details"]["oauth_token"]
    assert oauth["access_token"] == token["access_token"]
    assert oauth["refresh_token"] == token["refresh_token"]
    assert oauth["scopes"] == token["scopes"]
    # /details never shows stored credentials.
    assert unpopulated(
        api.details(connector=GMAIL, identifier="with-creds").get("authorization_details")
    )


def test_update_replaces_credentials_by_identifier_and_by_id(api: AgentKitClient) -> None:
    created = api.create(GMAIL, "updatable")
    first = {"oauth_token": {"access_token": "tok-1", "refresh_token": "ref-1", "scopes": ["a"]}}
    body = api.expect(
        200,
        "PUT",
        ACCOUNTS,
        body={
            "connector": GMAIL,
            "identifier": "updatable",
            "connected_account": {"authorization_details": first},
        },
    )
    assert body["connected_account"]["id"] == created["id"]
    assert api.auth(id=created["id"])["authorization_details"]["oauth_token"]["access_token"] == (
        "tok-1"
    )

    second = {"oauth_token": {"access_token": "tok-2", "refresh_token": "ref-2", "scopes": ["b"]}}
    api.expect(
        200,
        "PUT",
        ACCOUNTS,
        body={"id": created["id"], "connected_account": {"authorization_details": second}},
    )
    oauth = api.auth(connector=GMAIL, identifier="updatable")["authorization_details"][
        "oauth_token"
    ]
    assert (oauth["access_token"], oauth["refresh_token"], oauth["scopes"]) == (
        "tok-2",
        "ref-2",
        ["b"],
    )


def test_update_merges_api_config(api: AgentKitClient) -> None:
    # v1connected_accountsUpdateConnectedAccount.api_config: "Merges with existing
    # configuration - only provided fields are modified."
    api.create(GMAIL, "configured", connected_account={"api_config": {"timeout": 30, "rate": 5}})
    api.expect(
        200,
        "PUT",
        ACCOUNTS,
        body={
            "connector": GMAIL,
            "identifier": "configured",
            "connected_account": {"api_config": {"rate": 9}},
        },
    )
    config = api.details(connector=GMAIL, identifier="configured")["api_config"]
    assert config == {"timeout": 30, "rate": 9}


def test_update_unknown_account_is_404_code_5(api: AgentKitClient) -> None:
    answer = api.call(
        "PUT",
        ACCOUNTS,
        body={
            "connector": GMAIL,
            "identifier": "nobody",
            "connected_account": {"api_config": {"x": 1}},
        },
    )
    expect_error(answer, 404, 5)
    body = {"id": "ca_000000000000000000", "connected_account": {}}
    expect_error(api.call("PUT", ACCOUNTS, body=body), 404, 5)


def test_auth_has_credentials_and_details_does_not(sandbox: Any, api: AgentKitClient) -> None:
    account = connect(api, GMAIL, "reader@example.com")
    by_id = api.auth(id=account["id"])
    # Same account either way (last_used_at may legitimately move with each read).
    assert {k: v for k, v in by_id.items() if k != "last_used_at"} == {
        k: v for k, v in account.items() if k != "last_used_at"
    }

    oauth = account["authorization_details"]["oauth_token"]
    assert oauth["access_token"], "an ACTIVE OAuth account carries an access token"
    assert oauth.get("refresh_token"), "an ACTIVE OAuth account carries a refresh token"
    gmail_scopes = next(c.scopes for c in sandbox.settings.connections if c.name == GMAIL)
    assert set(oauth["scopes"]) == set(gmail_scopes)
    # CONTRACT.md: token_expires_at tells when the access token lapses.
    expires = parse_rfc3339(account["token_expires_at"])
    assert expires > datetime.now(UTC)

    for details in (
        api.details(connector=GMAIL, identifier="reader@example.com"),
        api.details(id=account["id"]),
    ):
        assert unpopulated(details.get("authorization_details"))
        assert details["id"] == account["id"]
        assert details["status"] == "ACTIVE"
        assert details["identifier"] == "reader@example.com"


@pytest.mark.parametrize("path", [AUTH, DETAILS])
def test_lookup_of_unknown_account_is_404_code_5(
    sandbox: Any, api: AgentKitClient, path: str
) -> None:
    expect_error(api.call("GET", path, params={"connector": GMAIL, "identifier": "nobody"}), 404, 5)
    expect_error(api.call("GET", path, params={"id": "ca_000000000000000000"}), 404, 5)
    # A known identifier on another connection is another account.
    api.create(GMAIL, "only-gmail")
    expect_error(
        api.call(
            "GET",
            path,
            params={"connector": other_oauth_connection(sandbox), "identifier": "only-gmail"},
        ),
        404,
        5,
    )


@pytest.mark.parametrize("path", [AUTH, DETAILS])
@pytest.mark.parametrize(
    "params", [{}, {"connector": GMAIL}, {"identifier": "someone"}], ids=["none", "conn", "ident"]
)
def test_lookup_without_a_key_is_400(
    api: AgentKitClient, path: str, params: dict[str, str]
) -> None:
    # The operations' 400: "Invalid request - missing required query parameters".
    expect_error(api.call("GET", path, params=params), 400, 3)


def test_list_filters(sandbox: Any, api: AgentKitClient) -> None:
    other = other_oauth_connection(sandbox)
    keyed = api_key_connection(sandbox)
    api.create(GMAIL, "Alice.Smith@example.com")
    api.create(GMAIL, "bob@example.com")
    api.create(other, "Alice.Smith@example.com")
    api.create(keyed, "carol")

    everything = api.list_accounts()
    assert everything["total_size"] == 4
    assert len(everything["connected_accounts"]) == 4

    gmail_only = api.list_accounts({"connector": GMAIL})["connected_accounts"]
    assert sorted(a["identifier"] for a in gmail_only) == [
        "Alice.Smith@example.com",
        "bob@example.com",
    ]
    assert all(a["connector"] == GMAIL for a in gmail_only)

    alice = api.list_accounts({"identifier": "Alice.Smith@example.com"})["connected_accounts"]
    assert sorted(a["connector"] for a in alice) == sorted([GMAIL, other])

    both = api.list_accounts({"connector": GMAIL, "identifier": "bob@example.com"})
    assert [a["identifier"] for a in both["connected_accounts"]] == ["bob@example.com"]
    assert both["total_size"] == 1

    # provider: filter by the value the accounts themselves report.
    provider = next(a["provider"] for a in gmail_only)
    by_provider = api.list_accounts({"provider": provider})["connected_accounts"]
    assert {a["id"] for a in gmail_only} <= {a["id"] for a in by_provider}
    assert all(a["provider"] == provider for a in by_provider)
    nothing = api.list_accounts({"provider": "NO_SUCH_PROVIDER"})
    assert unpopulated(nothing.get("connected_accounts"))
    assert nothing.get("total_size", 0) == 0

    # query: "Text search ... by name, identifier, or other searchable fields. Case-insensitive."
    found = api.list_accounts({"query": "alice.smith"})["connected_accounts"]
    assert sorted(a["identifier"] for a in found) == ["Alice.Smith@example.com"] * 2
    assert api.list_accounts({"query": "CAROL"})["connected_accounts"][0]["identifier"] == "carol"


def test_list_pagination(api: AgentKitClient) -> None:
    created = {api.create(GMAIL, f"paged-{n:02d}")["id"] for n in range(7)}
    first = api.list_accounts({"page_size": 3})
    # prev_page_token: "Empty if this is the first page."
    assert unpopulated(first.get("prev_page_token"))

    seen: list[str] = []
    page = first
    sizes: list[int] = []
    pages: list[dict[str, Any]] = []
    while True:
        pages.append(page)
        assert page["total_size"] == 7, "total_size counts all matches across pages"
        batch = [a["id"] for a in page["connected_accounts"]]
        sizes.append(len(batch))
        seen.extend(batch)
        token = page.get("next_page_token")
        if unpopulated(token):
            break
        assert len(sizes) < 5, "pagination does not end"
        page = api.list_accounts({"page_size": 3, "page_token": token})
    assert sizes == [3, 3, 1]
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == created

    # prev_page_token of a later page leads back to the page before it.
    back = pages[1].get("prev_page_token")
    assert not unpopulated(back), "a second page carries a prev_page_token"
    again = api.list_accounts({"page_size": 3, "page_token": back})
    assert [a["id"] for a in again["connected_accounts"]] == seen[:3]


def test_list_page_size_of_100_or_more_is_400(api: AgentKitClient) -> None:
    # The document says "between 0 and 100"; the field rule is `page_size < 100`.
    for size in (100, 101):
        answer = api.call("GET", ACCOUNTS, params={"page_size": size})
        expect_error(answer, 400, 3)
        assert answer.body["message"] == (
            "page_size: must be greater than or equal to 0 and less than 100"
        )
    api.expect(200, "GET", ACCOUNTS, params={"page_size": 99})


def test_list_with_bad_page_token_is_400(api: AgentKitClient) -> None:
    expect_error(api.call("GET", ACCOUNTS, params={"page_token": "%%not-a-token%%"}), 400, 3)


def test_list_never_shows_credentials(api: AgentKitClient) -> None:
    connect(api, GMAIL, "secretive")
    listing = api.list_accounts()  # strict ConnectedAccountForList: no authorization_details
    assert listing["connected_accounts"][0]["status"] == "ACTIVE"


def test_same_identifier_in_two_organizations(api: AgentKitClient) -> None:
    # execute_tool's organization_id: "narrow down the search when the same identifier exists
    # across multiple organizations" - so the organization is part of an account's key.
    one = api.create(GMAIL, "shared-user", organization_id="org_one")
    two = api.create(GMAIL, "shared-user", organization_id="org_two")
    assert one["id"] != two["id"]
    assert (
        api.details(connector=GMAIL, identifier="shared-user", organization_id="org_two")["id"]
        == two["id"]
    )
    scoped = api.list_accounts({"organization_id": "org_one"})["connected_accounts"]
    assert [a["id"] for a in scoped] == [one["id"]]


def test_delete_answers_empty_object_then_404(api: AgentKitClient) -> None:
    api.create(GMAIL, "doomed")
    assert api.expect(200, "POST", DELETE, body={"connector": GMAIL, "identifier": "doomed"}) == {}
    expect_error(api.call("GET", DETAILS, params={"connector": GMAIL, "identifier": "doomed"}),
                 404, 5)  # fmt: skip
    expect_error(api.call("POST", DELETE, body={"connector": GMAIL, "identifier": "doomed"}),
                 404, 5)  # fmt: skip

    by_id = api.create(GMAIL, "doomed-by-id")["id"]
    assert api.expect(200, "POST", DELETE, body={"id": by_id}) == {}
    expect_error(api.call("GET", AUTH, params={"id": by_id}), 404, 5)
    assert api.list_accounts().get("total_size", 0) == 0


def test_delete_without_a_key_is_400(api: AgentKitClient) -> None:
    expect_error(api.call("POST", DELETE, body={"connector": GMAIL}), 400, 3)
    expect_error(api.call("POST", DELETE, body={}), 400, 3)


def test_delete_revokes_the_accounts_tokens(sandbox: Any, api: AgentKitClient) -> None:
    # :delete "revokes all associated authentication credentials ... All OAuth tokens and API
    # keys for this account will be invalidated."
    account = connect(api, GMAIL, "leaver@example.com")
    token = account["authorization_details"]["oauth_token"]["access_token"]
    gmail = {"Authorization": f"Bearer {token}"}
    assert api.http.get("/gmail/v1/users/me/profile", headers=gmail).status_code == 200
    api.expect(200, "POST", DELETE, body={"id": account["id"]})
    assert api.http.get("/gmail/v1/users/me/profile", headers=gmail).status_code == 401


def test_connection_names_filter(sandbox: Any, api: AgentKitClient) -> None:
    # connection_names: "Filter by one or more connection names (exact match) ... Cannot be
    # combined with the `connector` field."
    other = other_oauth_connection(sandbox)
    keyed = api_key_connection(sandbox)
    for connector in (GMAIL, other, keyed):
        api.create(connector, "multi")
    listed = api.list_accounts([("connection_names", GMAIL), ("connection_names", keyed)])
    assert sorted(a["connector"] for a in listed["connected_accounts"]) == sorted([GMAIL, keyed])
    assert listed["total_size"] == 2
    clash = api.call("GET", ACCOUNTS, params=[("connection_names", GMAIL), ("connector", GMAIL)])
    expect_error(clash, 400, 3)


def test_updated_at_moves_when_credentials_change(sandbox_factory: Any) -> None:
    # updated_at: "Updated whenever credentials or configuration changes."
    live = sandbox_factory()
    with client_for(live) as api:
        created = api.create(GMAIL, "changing")
        live.admin("POST", "/_sandbox/clock", json={"advance_seconds": 30})
        updated = api.expect(
            200,
            "PUT",
            ACCOUNTS,
            body={
                "connector": GMAIL,
                "identifier": "changing",
                "connected_account": {"api_config": {"timeout": 5}},
            },
        )["connected_account"]
    assert parse_rfc3339(updated["updated_at"]) - parse_rfc3339(created["updated_at"]) >= (
        timedelta(seconds=30)
    )


@pytest.mark.parametrize("identifier", AWKWARD_IDENTIFIERS)
def test_identifier_round_trips_byte_for_byte(api: AgentKitClient, identifier: str) -> None:
    created = api.create(GMAIL, identifier)
    assert created["identifier"] == identifier
    details = api.details(connector=GMAIL, identifier=identifier)
    assert details["identifier"].encode() == identifier.encode()
    assert details["id"] == created["id"]
    listed = api.list_accounts({"identifier": identifier})["connected_accounts"]
    assert [a["identifier"] for a in listed] == [identifier]
    by_connector = api.list_accounts({"connector": GMAIL})["connected_accounts"]
    assert [a["identifier"] for a in by_connector] == [identifier]
    assert (
        api.expect(200, "POST", DELETE, body={"connector": GMAIL, "identifier": identifier}) == {}
    )


def test_awkward_identifiers_are_distinct_accounts(api: AgentKitClient) -> None:
    composed = unicodedata.normalize("NFC", "Zoë")
    decomposed = unicodedata.normalize("NFD", "Zoë")
    ids = {api.create(GMAIL, name)["id"] for name in (composed, decomposed)}
    assert len(ids) == 2, "identifiers are compared byte for byte, not Unicode-normalized"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    identifier=st.text(
        alphabet=st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=40
    ).filter(lambda s: s.strip() == s and s.strip() != "")
)
def test_any_identifier_round_trips(api: AgentKitClient, identifier: str) -> None:
    body = {"connector": GMAIL, "identifier": identifier, "connected_account": {}}
    answer = api.call("POST", ACCOUNTS, body=body)
    assert answer.status in (201, 409), answer.body  # 409: hypothesis repeated an example
    details = api.details(connector=GMAIL, identifier=identifier)
    assert details["identifier"] == identifier
    listed = api.list_accounts({"connector": GMAIL, "identifier": identifier})
    assert [a["identifier"] for a in listed["connected_accounts"]] == [identifier]


# ---------------------------------------------------------------------------------------------
# Magic links and the hosted page
# ---------------------------------------------------------------------------------------------


def test_magic_link_answer(sandbox: Any, api: AgentKitClient) -> None:
    api.create(GMAIL, "linked")
    before = datetime.now(UTC)
    body = api.magic_link(connector=GMAIL, identifier="linked")
    assert set(body) == {"link", "expiry"}
    # docs/architecture.md: the link is {base}/magic/{token}; base is the request's base URL.
    assert body["link"].startswith(f"{sandbox.url}/magic/")
    expiry = parse_rfc3339(body["expiry"])
    ttl = timedelta(seconds=sandbox.settings.link_ttl)
    assert (
        before + ttl - timedelta(seconds=5)
        <= expiry
        <= datetime.now(UTC) + ttl + timedelta(seconds=5)
    )
    by_id = api.magic_link(id=api.details(connector=GMAIL, identifier="linked")["id"])
    assert by_id["link"] != body["link"], "each request mints its own link"


def test_magic_link_uses_public_url(sandbox_factory: Any) -> None:
    live = sandbox_factory(public_url="https://connect.example.test/base")
    with client_for(live) as api:
        api.create(GMAIL, "public")
        link = api.magic_link(connector=GMAIL, identifier="public")["link"]
    assert link.startswith("https://connect.example.test/base/magic/")


def test_magic_link_for_unknown_connection_is_400(api: AgentKitClient) -> None:
    # The operation's 400: "missing required parameters or invalid connector".
    answer = api.call("POST", MAGIC_LINK, body={"connector": "no_such", "identifier": "u"})
    assert answer.status == 400, answer.body
    assert grpc_code(answer.body) in (3, 9)


def test_magic_link_without_a_key_is_400(api: AgentKitClient) -> None:
    expect_error(api.call("POST", MAGIC_LINK, body={"connector": GMAIL}), 400, 3)


def test_magic_link_for_an_account_not_yet_created(api: AgentKitClient) -> None:
    # The operation documents 200/400/401 only; the SDK's authorization-link call is commonly
    # made before any create. Whatever the answer, it must be a documented one.
    answer = api.call("POST", MAGIC_LINK, body={"connector": GMAIL, "identifier": "fresh-user"})
    if answer.status == 200:
        account = api.details(connector=GMAIL, identifier="fresh-user")
        assert account["status"] == "PENDING_AUTH"


def test_allow_activates_in_dashboard_mode(sandbox: Any, api: AgentKitClient) -> None:
    api.create(GMAIL, "dash-user")
    link = api.magic_link(connector=GMAIL, identifier="dash-user")["link"]
    with plain_client() as browser:
        page = open_link(browser, link)
    assert page.status == 200
    form = page.consent_form()
    assert form is not None
    assert form.method == "post"
    allow, deny = form.button("Allow"), form.button("Deny")
    assert (allow.name, allow.value) == ("decision", "allow")
    assert (deny.name, deny.value) == ("decision", "deny")
    assert "dash-user" in page.text and GMAIL in page.text.lower()

    consent_page_after(api, link, "Allow")
    assert api.details(connector=GMAIL, identifier="dash-user")["status"] == "ACTIVE"


def test_deny_ends_the_authorization_visibly(api: AgentKitClient) -> None:
    # The statuses the document names: Deny must leave one an app can tell from "not yet".
    created = api.create(GMAIL, "denier")
    link = api.magic_link(connector=GMAIL, identifier="denier")["link"]
    text = consent_page_after(api, link, "Deny")
    assert any(word in text.lower() for word in ("denied", "declined", "cancel", "not connected"))
    account = api.details(connector=GMAIL, identifier="denier")
    assert account["status"] == "DISCONNECTED"
    assert account["updated_at"] != created["updated_at"]


def test_link_is_single_use(api: AgentKitClient) -> None:
    api.create(GMAIL, "once")
    link = api.magic_link(connector=GMAIL, identifier="once")["link"]
    with plain_client() as browser:
        page = open_link(browser, link)
        assert submit(browser, page, "Allow").status_code < 400
        # CONTRACT.md: links "are meant for one use".
        replay = submit(browser, page, "Allow")
        assert replay.status_code >= 400, f"a used link accepted a second decision: {replay}"
        again = open_link(browser, link)
    assert again.status >= 400 or again.consent_form() is None


def test_expired_link_does_not_authorize(sandbox_factory: Any) -> None:
    live = sandbox_factory()  # its own sandbox: the clock moves
    with client_for(live) as api, plain_client() as browser:
        api.create(GMAIL, "late")
        link = api.magic_link(connector=GMAIL, identifier="late")["link"]
        page = open_link(browser, link)
        live.admin("POST", "/_sandbox/clock", json={"advance_seconds": live.settings.link_ttl + 1})
        late = submit(browser, page, "Allow")
        assert late.status_code >= 400, "an expired link accepted a decision"
        reopened = open_link(browser, link)
        assert reopened.status >= 400 or reopened.consent_form() is None
        assert api.details(connector=GMAIL, identifier="late")["status"] == "PENDING_AUTH"


@pytest.mark.parametrize("status", ["EXPIRED", "DISCONNECTED"])
def test_reauthorization_restores_active(sandbox: Any, api: AgentKitClient, status: str) -> None:
    connect(api, GMAIL, "returning")
    sandbox.admin(
        "POST",
        "/_sandbox/accounts/status",
        json={"connector": GMAIL, "identifier": "returning", "status": status},
    )
    assert api.details(connector=GMAIL, identifier="returning")["status"] == status
    link = api.magic_link(connector=GMAIL, identifier="returning")["link"]
    assert consent(api, link).status_code < 400
    assert api.details(connector=GMAIL, identifier="returning")["status"] == "ACTIVE"


def test_api_key_connection_form(sandbox_factory: Any) -> None:
    # CONTRACT.md: "API-key style connections have no verification step" - even in custom mode.
    live = sandbox_factory(user_verification="custom")
    keyed = api_key_connection(live)
    with client_for(live) as api:
        created = api.create(keyed, "key-holder")
        assert created["authorization_type"] == "API_KEY"
        link = api.magic_link(connector=keyed, identifier="key-holder")["link"]
        with plain_client() as browser:
            page = open_link(browser, link)
            form = page.consent_form()
            assert form is not None and "api_key" in form.inputs
            assert [b.label for b in form.buttons] == ["Allow"]
            answer = submit(browser, page, "Allow", {"api_key": "exa-secret-123"})
        assert answer.status_code < 400
        account = api.auth(connector=keyed, identifier="key-holder")
        assert account["status"] == "ACTIVE"
        static = account["authorization_details"]["static_auth"]["details"]
        assert "exa-secret-123" in static.values()
        assert unpopulated(account["authorization_details"].get("oauth_token"))


# ---------------------------------------------------------------------------------------------
# Custom user verification
# ---------------------------------------------------------------------------------------------

VERIFY_URL = "https://app.example.test/user/verify?from=sk"


def _consent_in_custom_mode(api: AgentKitClient, identifier: str, state: str) -> dict[str, str]:
    """Run the hosted flow up to the redirect; returns the verify URL's query parameters."""
    api.create(GMAIL, identifier)
    link = api.magic_link(
        connector=GMAIL, identifier=identifier, state=state, user_verify_url=VERIFY_URL
    )["link"]
    answer = consent(api, link)
    assert answer.is_redirect, (
        f"CONTRACT.md: after consent the browser is sent to user_verify_url; got "
        f"{answer.status_code}: {answer.text[:200]}"
    )
    target = urljoin(link, answer.headers["location"])
    parts = urlsplit(target)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == VERIFY_URL.split("?")[0]
    query = parse_qs(parts.query, keep_blank_values=True)
    assert query.get("from") == ["sk"], "the verify URL's own query survives"
    assert all(len(v) == 1 for v in query.values()), query
    return {k: v[0] for k, v in query.items()}


def test_custom_verification_flow(sandbox_factory: Any) -> None:
    live = sandbox_factory(user_verification="custom")
    with client_for(live) as api:
        state = "st/ate with & and = and é"
        query = _consent_in_custom_mode(api, "verifier@example.com", state)
        assert query["state"] == state, "state is echoed exactly"
        auth_request_id = query["auth_request_id"]
        assert auth_request_id
        details = api.details(connector=GMAIL, identifier="verifier@example.com")
        assert details["status"] == "PENDING_VERIFICATION"
        # Tokens are held, not handed out, until verification.
        pending = api.auth(connector=GMAIL, identifier="verifier@example.com")
        assert unpopulated(
            (pending.get("authorization_details") or {}).get("oauth_token", {}).get("access_token")
        ), "a PENDING_VERIFICATION account must not hand out a live token"

        wrong = api.call(
            "POST", VERIFY, body={"auth_request_id": auth_request_id, "identifier": "mallory"}
        )
        expect_error(wrong, 403, 7)
        assert api.details(connector=GMAIL, identifier="verifier@example.com")["status"] == (
            "PENDING_VERIFICATION"
        )

        body = api.expect(
            200,
            "POST",
            VERIFY,
            body={"auth_request_id": auth_request_id, "identifier": "verifier@example.com"},
        )
        redirect = body["post_user_verify_redirect_url"]
        assert urlsplit(redirect).scheme in ("http", "https") and urlsplit(redirect).netloc
        account = api.auth(connector=GMAIL, identifier="verifier@example.com")
        assert account["status"] == "ACTIVE"
        assert account["authorization_details"]["oauth_token"]["access_token"]

        used = api.call(
            "POST",
            VERIFY,
            body={"auth_request_id": auth_request_id, "identifier": "verifier@example.com"},
        )
        expect_error(used, 404, 5)


def test_verify_unknown_request_is_404(sandbox_factory: Any) -> None:
    live = sandbox_factory(user_verification="custom")
    with client_for(live) as api:
        answer = api.call(
            "POST", VERIFY, body={"auth_request_id": "QVNDSUFyY2hhYml0dGVy", "identifier": "x"}
        )
        expect_error(answer, 404, 5)


@pytest.mark.parametrize(
    "body", [{}, {"auth_request_id": "abc"}, {"identifier": "x"}], ids=["empty", "no-id", "no-ar"]
)
def test_verify_missing_fields_is_400(sandbox_factory: Any, body: dict[str, str]) -> None:
    live = sandbox_factory(user_verification="custom")
    with client_for(live) as api:
        # The request schema requires both fields: these bodies are wrong on purpose.
        expect_error(api.call("POST", VERIFY, body=body, check_request=False), 400, 3)


def test_dashboard_mode_activates_without_redirect(sandbox: Any, api: AgentKitClient) -> None:
    api.create(GMAIL, "no-verify")
    link = api.magic_link(
        connector=GMAIL, identifier="no-verify", state="s", user_verify_url=VERIFY_URL
    )["link"]
    answer = consent(api, link)
    if answer.is_redirect:
        assert not answer.headers["location"].startswith(VERIFY_URL.split("?")[0]), (
            "in dashboard mode there is no custom verification redirect"
        )
    assert api.details(connector=GMAIL, identifier="no-verify")["status"] == "ACTIVE"


# ---------------------------------------------------------------------------------------------
# Tools: execute_tool and the catalog
# ---------------------------------------------------------------------------------------------


def _all_tools(api: AgentKitClient, extra: list[tuple[str, str]] | None = None) -> list[dict]:
    tools: list[dict] = []
    token: str | None = None
    for _ in range(50):
        params = list(extra or [])
        if token:
            params.append(("page_token", token))
        page = api.expect(200, "GET", TOOLS, params=params)
        tools.extend(page.get("tools") or [])
        total = page.get("total_size", 0)
        token = page.get("next_page_token")
        if unpopulated(token):
            # total_size: "Total number of tools matching the query".
            assert total == len(tools), f"total_size {total} but {len(tools)} tools listed"
            return tools
    pytest.fail("tool pagination does not end")


def input_schema_of(tool: dict[str, Any]) -> dict[str, Any]:
    """The JSON-Schema input definition of a tool.

    The official Python SDK reads `definition["name"]` and `definition["input_schema"]`
    (scalekit/actions/frameworks/util.py); the OpenAPI example writes `{"input": {...}}`.
    """
    definition = tool["definition"]
    schema = definition.get("input_schema", definition.get("input"))
    assert isinstance(schema, dict), f"tool definition without an input schema: {definition}"
    return schema


def test_tool_catalog_definitions(api: AgentKitClient) -> None:
    tools = _all_tools(api)
    assert tools, "the catalog lists tools"
    names = [t["definition"].get("name") for t in tools]
    assert all(isinstance(n, str) and n for n in names), "every definition names its tool"
    assert len(names) == len(set(names))
    assert FETCH_MAILS in names
    for tool in tools:
        assert not unpopulated(tool.get("provider")), tool
        schema = input_schema_of(tool)
        Draft202012Validator.check_schema(schema)
        assert schema.get("type") == "object", f"{tool['definition']['name']}: {schema}"
        assert isinstance(tool["definition"].get("description"), str)
    fetch = next(t for t in tools if t["definition"]["name"] == FETCH_MAILS)
    # The seeds' example input must be valid against the tool's own declaration.
    Draft202012Validator(input_schema_of(fetch)).validate(FETCH_MAILS_PARAMS)


def test_tools_total_size_and_paging(api: AgentKitClient) -> None:
    everything = _all_tools(api)
    first = api.expect(200, "GET", TOOLS, params={"page_size": 2})
    assert len(first["tools"]) == min(2, len(everything))
    assert first["total_size"] == len(everything)
    paged = _all_tools(api, [("page_size", "2")])
    assert [t["definition"]["name"] for t in paged] == [t["definition"]["name"] for t in everything]


def test_tools_filter_provider(api: AgentKitClient) -> None:
    everything = _all_tools(api)
    provider = next(t["provider"] for t in everything if t["definition"]["name"] == FETCH_MAILS)
    subset = _all_tools(api, [("filter.provider", provider)])
    assert subset and all(t["provider"] == provider for t in subset)
    assert len(subset) == sum(1 for t in everything if t["provider"] == provider)
    assert _all_tools(api, [("filter.provider", "NO_SUCH_PROVIDER")]) == []


def test_tools_filter_tool_name_repeatable(api: AgentKitClient) -> None:
    names = [t["definition"]["name"] for t in _all_tools(api)]
    wanted = [FETCH_MAILS, next(n for n in names if n != FETCH_MAILS)]
    subset = _all_tools(api, [("filter.tool_name", wanted[0]), ("filter.tool_name", wanted[1])])
    assert sorted(t["definition"]["name"] for t in subset) == sorted(wanted)
    single = _all_tools(api, [("filter.tool_name", FETCH_MAILS)])
    assert [t["definition"]["name"] for t in single] == [FETCH_MAILS]


def test_tools_filter_query(api: AgentKitClient) -> None:
    # filter.query: "Full-text search query to match tools by name or description".
    found = _all_tools(api, [("filter.query", "gmail")])
    assert FETCH_MAILS in [t["definition"]["name"] for t in found]
    for tool in found:
        text = f"{tool['definition']['name']} {tool['definition'].get('description', '')}"
        assert "gmail" in text.lower(), tool["definition"]["name"]
    assert _all_tools(api, [("filter.query", "zzqx-nothing-matches")]) == []
    # The descriptors: "split on spaces and underscores, and every token must appear".
    tokens = _all_tools(api, [("filter.query", "Gmail fetch")])
    assert [t["definition"]["name"] for t in tokens] == [FETCH_MAILS]
    assert _all_tools(api, [("filter.query", "gmail_zzqx")]) == []


def test_tools_filter_summary(api: AgentKitClient) -> None:
    names = sorted(t["definition"]["name"] for t in _all_tools(api))
    summary = api.expect(200, "GET", TOOLS, params={"filter.summary": True, "page_size": 100})
    # tool_names: "returned when filter.summary is true"; tools: "returned when filter.summary
    # is false or omitted".
    assert unpopulated(summary.get("tools"))
    assert sorted(summary["tool_names"]) == names
    full = api.expect(200, "GET", TOOLS, params={"filter.summary": False, "page_size": 100})
    assert full["tools"] and unpopulated(full.get("tool_names"))


def test_execute_tool_by_connector_and_by_id(api: AgentKitClient) -> None:
    account = connect(api, GMAIL, "runner@example.com")
    by_name = api.expect(
        200,
        "POST",
        EXECUTE,
        body={
            "tool_name": FETCH_MAILS,
            "connector": GMAIL,
            "identifier": "runner@example.com",
            "params": FETCH_MAILS_PARAMS,
        },
    )
    by_id = api.expect(
        200,
        "POST",
        EXECUTE,
        body={
            "tool_name": FETCH_MAILS,
            "connected_account_id": account["id"],
            "params": FETCH_MAILS_PARAMS,
            "agent_run_id": "run_contract_1",
        },
    )
    for result in (by_name, by_id):
        assert isinstance(result["data"], dict) and result["data"]
        assert isinstance(result["execution_id"], str) and result["execution_id"]
    assert by_name["execution_id"] != by_id["execution_id"], "each execution has its own id"


def test_execute_unknown_tool_is_404(api: AgentKitClient) -> None:
    connect(api, GMAIL, "tooluser")
    answer = api.call(
        "POST",
        EXECUTE,
        body={"tool_name": "gmail_no_such_tool", "connector": GMAIL, "identifier": "tooluser",
              "params": {}},
    )  # fmt: skip
    expect_error(answer, 404, 5)


def test_execute_for_unknown_account_is_404(api: AgentKitClient) -> None:
    body = {"tool_name": FETCH_MAILS, "connector": GMAIL, "identifier": "nobody", "params": {}}
    expect_error(api.call("POST", EXECUTE, body=body), 404, 5)
    body = {"tool_name": FETCH_MAILS, "connected_account_id": "ca_000000000000000000",
            "params": {}}  # fmt: skip
    expect_error(api.call("POST", EXECUTE, body=body), 404, 5)


@pytest.mark.parametrize("status", ["PENDING_AUTH", "EXPIRED", "DISCONNECTED"])
def test_execute_on_an_account_not_active_is_400_code_9(
    sandbox: Any, api: AgentKitClient, status: str
) -> None:
    if status == "PENDING_AUTH":
        api.create(GMAIL, "idle")
    else:
        connect(api, GMAIL, "idle")
        sandbox.admin(
            "POST",
            "/_sandbox/accounts/status",
            json={"connector": GMAIL, "identifier": "idle", "status": status},
        )
    body = {
        "tool_name": FETCH_MAILS,
        "connector": GMAIL,
        "identifier": "idle",
        "params": FETCH_MAILS_PARAMS,
    }
    expect_error(api.call("POST", EXECUTE, body=body), 400, 9)


def test_execute_with_params_violating_the_definition_is_400(api: AgentKitClient) -> None:
    connect(api, GMAIL, "sloppy")
    fetch = _all_tools(api, [("filter.tool_name", FETCH_MAILS)])[0]
    bad_params = {"query": "is:unread", "max_results": "five"}
    # Make sure the tool's own definition rejects these params before blaming the sandbox.
    assert list(Draft202012Validator(input_schema_of(fetch)).iter_errors(bad_params))
    body = {"tool_name": FETCH_MAILS, "connector": GMAIL, "identifier": "sloppy",
            "params": bad_params}  # fmt: skip
    # The operation's 400: "... or tool definition validation fails".
    expect_error(api.call("POST", EXECUTE, body=body), 400, 3)


def test_execute_tool_records_last_used_at(sandbox_factory: Any) -> None:
    # last_used_at: "Timestamp when this connected account was last used to make an API call."
    live = sandbox_factory()
    with client_for(live) as api:
        connected_at = parse_rfc3339(connect(api, GMAIL, "busy")["updated_at"])
        live.admin("POST", "/_sandbox/clock", json={"advance_seconds": 90})
        api.expect(
            200,
            "POST",
            EXECUTE,
            body={"tool_name": FETCH_MAILS, "connector": GMAIL, "identifier": "busy",
                  "params": FETCH_MAILS_PARAMS},
        )  # fmt: skip
        account = api.details(connector=GMAIL, identifier="busy")
    assert not unpopulated(account.get("last_used_at")), account
    assert parse_rfc3339(account["last_used_at"]) >= connected_at + timedelta(seconds=90)


def test_execute_without_tool_name_is_400(api: AgentKitClient) -> None:
    connect(api, GMAIL, "nameless")
    body = {"connector": GMAIL, "identifier": "nameless", "params": {}}
    expect_error(api.call("POST", EXECUTE, body=body), 400, 3)
