"""The hosted authorization page: consent, denial, link life, API keys, user verification."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import LiveSandbox
from tests.sandbox.conftest import ACCOUNTS, Agent, assert_gateway_error
from tests.sandbox.test_token_life import advance

VERIFY = f"{ACCOUNTS}/user/verify"


def test_consent_page_names_connection_and_escapes_identifier(agent: Agent) -> None:
    identifier = '<script>alert("x")</script>&co@example.com'
    link = agent.magic_link("gmail", identifier)
    page = agent.browser.get(link)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;co@example.com" in page.text
    assert "gmail" in page.text
    assert '<form method="post">' in page.text
    assert '<button type="submit" name="decision" value="allow">Allow</button>' in page.text
    assert '<button type="submit" name="decision" value="deny">Deny</button>' in page.text
    # Opening the page does not use the link up.
    assert agent.browser.get(link).status_code == 200


def test_allow_connects_in_dashboard_mode(agent: Agent) -> None:
    agent.create("gmail", "allow@example.com")
    answer = agent.decide(agent.magic_link("gmail", "allow@example.com"))
    assert answer.status_code == 200
    assert "connected" in answer.text
    account = agent.auth("gmail", "allow@example.com")
    assert account["status"] == "ACTIVE"
    token = account["authorization_details"]["oauth_token"]
    assert token["access_token"].startswith("ya29.")
    assert token["refresh_token"]


def test_deny_disconnects_the_account(agent: Agent) -> None:
    link = agent.magic_link("gmail", "deny@example.com")  # creates the account
    answer = agent.decide(link, "deny")
    assert answer.status_code == 200
    assert "denied" in answer.text
    account = agent.auth("gmail", "deny@example.com")
    assert account["status"] == "DISCONNECTED"
    assert "authorization_details" not in account


def test_deny_on_a_reauthorization_keeps_the_working_account(agent: Agent) -> None:
    agent.decide(agent.magic_link("gmail", "keep@example.com"), "allow")
    agent.decide(agent.magic_link("gmail", "keep@example.com"), "deny")
    account = agent.auth("gmail", "keep@example.com")
    assert account["status"] == "ACTIVE"
    assert account["authorization_details"]["oauth_token"]["access_token"]


def test_links_work_once(agent: Agent) -> None:
    link = agent.magic_link("gmail", "once@example.com")
    assert agent.decide(link).status_code == 200
    again = agent.browser.get(link)
    assert again.status_code == 410
    assert "already been used" in again.text
    assert agent.browser.post(link, data={"decision": "allow"}).status_code == 410


def test_expired_link_is_refused_and_changes_nothing(sandbox: LiveSandbox, agent: Agent) -> None:
    link_answer = agent.http.post(
        f"{ACCOUNTS}/magic_link", json={"connector": "gmail", "identifier": "late@example.com"}
    ).json()
    assert link_answer["expiry"].endswith("Z")
    advance(sandbox, sandbox.settings.link_ttl)
    page = agent.browser.get(link_answer["link"])
    assert page.status_code == 410
    assert "expired" in page.text
    assert "Traceback" not in page.text
    assert agent.browser.post(link_answer["link"], data={"decision": "allow"}).status_code == 410
    assert agent.details("gmail", "late@example.com")["status"] == "PENDING_AUTH"


def test_unknown_link_is_a_404_page(sandbox: LiveSandbox, browser: httpx.Client) -> None:
    page = browser.get(f"{sandbox.url}/magic/not-a-real-token")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "not valid" in page.text


def test_link_base_is_the_public_url_when_set(agent_factory: Callable[..., Agent]) -> None:
    agent = agent_factory(public_url="https://sandbox.example.test/")
    link = agent.magic_link("gmail", "public@example.com")
    assert link.startswith("https://sandbox.example.test/magic/")


def test_reauthorization_replaces_tokens(agent: Agent) -> None:
    first = agent.connect("gmail", "again@example.com")
    second = agent.connect("gmail", "again@example.com")
    old = first["authorization_details"]["oauth_token"]["access_token"]
    new = second["authorization_details"]["oauth_token"]["access_token"]
    assert old != new
    assert agent.gmail("/profile", old).status_code == 401
    assert agent.gmail("/profile", new).status_code == 200


def test_api_key_page_stores_static_auth(agent_factory: Callable[..., Agent]) -> None:
    agent = agent_factory(user_verification="custom")  # API keys skip verification
    link = agent.magic_link("exa", "searcher")
    page = agent.browser.get(link)
    assert '<input id="api_key" name="api_key"' in page.text
    assert 'value="deny"' not in page.text
    # An empty key re-shows the form and leaves the link usable.
    empty = agent.browser.post(link, data={"decision": "allow", "api_key": "  "})
    assert empty.status_code == 400
    assert 'name="api_key"' in empty.text
    answer = agent.browser.post(link, data={"decision": "allow", "api_key": "exa-key-123"})
    assert answer.status_code == 200
    account = agent.auth("exa", "searcher")
    assert account["status"] == "ACTIVE"
    assert account["authorization_type"] == "API_KEY"
    assert account["authorization_details"] == {
        "static_auth": {"details": {"api_key": "exa-key-123"}}
    }
    assert "token_expires_at" not in account


# --- custom user verification ------------------------------------------------------------------


def _consent_custom(agent: Agent, identifier: str, **link_extra: str) -> httpx.Response:
    link = agent.magic_link("gmail", identifier, **link_extra)
    return agent.browser.post(link, data={"decision": "allow"})


def test_custom_verification_redirects_and_verifies(agent_factory: Callable[..., Agent]) -> None:
    agent = agent_factory(user_verification="custom")
    state = "s/t&a=te é#1"
    answer = _consent_custom(
        agent,
        "verify@example.com",
        state=state,
        user_verify_url="https://app.example.test/verify?tenant=a%20b&x=1#frag",
    )
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith("https://app.example.test/verify?tenant=a%20b&x=1&")
    assert location.endswith("#frag")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state]
    assert query["tenant"] == ["a b"]
    request_id = query["auth_request_id"][0]
    assert "=" not in request_id  # base64url, unpadded

    held = agent.auth("gmail", "verify@example.com")
    assert held["status"] == "PENDING_VERIFICATION"
    assert "authorization_details" not in held

    wrong = agent.http.post(VERIFY, json={"auth_request_id": request_id, "identifier": "mallory"})
    assert_gateway_error(wrong, 403, 7)
    assert agent.details("gmail", "verify@example.com")["status"] == "PENDING_VERIFICATION"

    right = agent.http.post(
        VERIFY, json={"auth_request_id": request_id, "identifier": "verify@example.com"}
    )
    assert right.status_code == 200
    redirect = right.json()["post_user_verify_redirect_url"]
    assert redirect == f"{agent.live.url}/magic/verified"
    assert "verified" in agent.browser.get(redirect).text
    account = agent.auth("gmail", "verify@example.com")
    assert account["status"] == "ACTIVE"
    token = account["authorization_details"]["oauth_token"]["access_token"]
    assert agent.gmail("/profile", token).status_code == 200

    reused = agent.http.post(
        VERIFY, json={"auth_request_id": request_id, "identifier": "verify@example.com"}
    )
    assert_gateway_error(reused, 404, 5)


def test_custom_verification_without_state_adds_only_the_request_id(
    agent_factory: Callable[..., Agent],
) -> None:
    agent = agent_factory(user_verification="custom")
    answer = _consent_custom(agent, "nostate", user_verify_url="https://app.example.test/v")
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert set(query) == {"auth_request_id"}


def test_custom_verification_without_verify_url_explains(
    agent_factory: Callable[..., Agent],
) -> None:
    agent = agent_factory(user_verification="custom")
    answer = _consent_custom(agent, "no-url@example.com")
    assert answer.status_code == 200
    assert "must" in answer.text and "verify" in answer.text
    request_id = answer.text.split('id="auth_request_id">')[1].split("<")[0]
    verified = agent.http.post(
        VERIFY, json={"auth_request_id": request_id, "identifier": "no-url@example.com"}
    )
    assert verified.status_code == 200


def test_custom_verification_requests_expire(agent_factory: Callable[..., Agent]) -> None:
    agent = agent_factory(user_verification="custom")
    answer = _consent_custom(agent, "slow@example.com", user_verify_url="https://app.test/v")
    request_id = parse_qs(urlsplit(answer.headers["location"]).query)["auth_request_id"][0]
    advance(agent.live, agent.live.settings.link_ttl)
    late = agent.http.post(
        VERIFY, json={"auth_request_id": request_id, "identifier": "slow@example.com"}
    )
    assert_gateway_error(late, 404, 5)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"auth_request_id": "abc"},
        {"identifier": "x"},
        {"auth_request_id": 5, "identifier": "x"},
    ],
)
def test_verify_needs_both_fields(agent: Agent, body: dict) -> None:
    assert_gateway_error(agent.http.post(VERIFY, json=body), 400, 3)


def test_verify_unknown_request_is_404(agent: Agent) -> None:
    answer = agent.http.post(VERIFY, json={"auth_request_id": "bm9wZQ", "identifier": "x"})
    assert_gateway_error(answer, 404, 5)


def test_mode_switch_to_custom_applies_to_the_next_consent(
    sandbox: LiveSandbox, agent: Agent
) -> None:
    sandbox.admin("POST", "/_sandbox/settings", json={"user_verification": "custom"})
    answer = _consent_custom(agent, "switch@example.com", user_verify_url="https://app.test/v")
    assert answer.status_code == 303
    sandbox.admin("POST", "/_sandbox/settings", json={"user_verification": "dashboard"})
    assert agent.connect("gmail", "switch@example.com")["status"] == "ACTIVE"
