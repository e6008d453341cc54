"""Access-token life: lapse and server-side refresh, forced statuses, revocation."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.conftest import LiveSandbox
from tests.sandbox.conftest import Agent


def seconds_until(timestamp: str, live: LiveSandbox) -> float:
    """Seconds from the sandbox's now to an RFC 3339 `...Z` timestamp."""
    assert timestamp.endswith("Z"), timestamp
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    return moment - live.engine.now()


def advance(live, seconds: float) -> None:
    live.admin("POST", "/_sandbox/clock", json={"advance_seconds": seconds})


def test_lapsed_token_is_refreshed_on_auth_read(sandbox: LiveSandbox, agent: Agent) -> None:
    first = agent.connect("gmail", "refresh@example.com")
    token = first["authorization_details"]["oauth_token"]
    assert 3590 <= seconds_until(first["token_expires_at"], sandbox) <= 3601
    assert token["scopes"] == sandbox.settings.connection("gmail").scopes

    # Before the lapse the same token is handed out, and Gmail takes it.
    advance(sandbox, 3000)
    assert agent.access_token("gmail", "refresh@example.com") == token["access_token"]
    assert agent.gmail("/profile", token["access_token"]).status_code == 200

    # After the lapse Gmail refuses it, and /auth hands out a fresh one.
    advance(sandbox, 700)
    assert agent.gmail("/profile", token["access_token"]).status_code == 401
    refreshed = agent.auth("gmail", "refresh@example.com")
    fresh = refreshed["authorization_details"]["oauth_token"]
    assert fresh["access_token"] != token["access_token"]
    assert fresh["refresh_token"] == token["refresh_token"]
    assert 3590 <= seconds_until(refreshed["token_expires_at"], sandbox) <= 3601
    assert refreshed["status"] == "ACTIVE"
    assert agent.gmail("/profile", fresh["access_token"]).status_code == 200
    # The old token stays dead.
    assert agent.gmail("/profile", token["access_token"]).status_code == 401


def test_details_does_not_refresh(sandbox: LiveSandbox, agent: Agent) -> None:
    first = agent.connect("gmail", "lazy@example.com")
    advance(sandbox, 4000)
    details = agent.details("gmail", "lazy@example.com")
    assert details["token_expires_at"] == first["token_expires_at"]
    assert "authorization_details" not in details


def test_last_used_at_follows_auth_reads(sandbox: LiveSandbox, agent: Agent) -> None:
    agent.create("gmail", "usage@example.com")
    assert "last_used_at" not in agent.details("gmail", "usage@example.com")
    agent.auth("gmail", "usage@example.com")
    seen = agent.details("gmail", "usage@example.com")["last_used_at"]
    advance(sandbox, 120)
    agent.auth("gmail", "usage@example.com")
    later = agent.details("gmail", "usage@example.com")["last_used_at"]
    assert later > seen


def test_user_supplied_token_without_refresh_token_expires(
    sandbox: LiveSandbox, agent: Agent
) -> None:
    agent.create(
        "gmail",
        "byo@example.com",
        connected_account={"authorization_details": {"oauth_token": {"access_token": "ya29.mine"}}},
    )
    assert agent.gmail("/profile", "ya29.mine").status_code == 200
    advance(sandbox, sandbox.settings.access_token_ttl + 1)
    account = agent.auth("gmail", "byo@example.com")
    assert account["status"] == "EXPIRED"
    assert agent.gmail("/profile", "ya29.mine").status_code == 401


@pytest.mark.parametrize(
    "status", ["EXPIRED", "DISCONNECTED", "PENDING_AUTH", "PENDING_VERIFICATION"]
)
def test_forced_status_blocks_gmail_and_refresh(
    sandbox: LiveSandbox, agent: Agent, status: str
) -> None:
    before = agent.connect("gmail", "forced@example.com")
    token = before["authorization_details"]["oauth_token"]["access_token"]
    forced = sandbox.admin(
        "POST",
        "/_sandbox/accounts/status",
        json={"connector": "gmail", "identifier": "forced@example.com", "status": status},
    ).json()["connected_account"]
    assert forced["status"] == status
    assert agent.gmail("/profile", token).status_code == 401
    advance(sandbox, 7200)
    after = agent.auth("gmail", "forced@example.com")
    assert after["status"] == status
    # No refresh for an account that is not ACTIVE.
    assert after["authorization_details"]["oauth_token"]["access_token"] == token
    assert after["token_expires_at"] == before["token_expires_at"]


def test_forcing_active_mints_tokens_for_a_fresh_account(
    sandbox: LiveSandbox, agent: Agent
) -> None:
    agent.create("gmail", "instant@example.com")
    sandbox.admin(
        "POST",
        "/_sandbox/accounts/status",
        json={"connector": "gmail", "identifier": "instant@example.com", "status": "ACTIVE"},
    )
    token = agent.access_token("gmail", "instant@example.com")
    assert agent.gmail("/profile", token).status_code == 200


def test_admin_account_calls_validate_their_input(sandbox: LiveSandbox, agent: Agent) -> None:
    def post(path: str, body: dict) -> int:
        return agent.browser.post(f"{sandbox.url}{path}", json=body).status_code

    agent.create("gmail", "admin-input@example.com")
    target = {"connector": "gmail", "identifier": "admin-input@example.com"}
    assert post("/_sandbox/accounts/status", {**target, "status": "BROKEN"}) == 400
    assert post("/_sandbox/accounts/status", {"connector": "gmail", "status": "ACTIVE"}) == 400
    assert (
        post("/_sandbox/accounts/status", {**target, "identifier": "ghost", "status": "ACTIVE"})
        == 404
    )
    # No OAuth token yet: nothing to revoke.
    assert post("/_sandbox/accounts/revoke", target) == 400


def test_revoke_without_rotate_keeps_handing_out_the_dead_token(
    sandbox: LiveSandbox, agent: Agent
) -> None:
    token = agent.connect("gmail", "revoked@example.com")["authorization_details"]["oauth_token"]
    sandbox.admin(
        "POST",
        "/_sandbox/accounts/revoke",
        json={"connector": "gmail", "identifier": "revoked@example.com", "rotate": False},
    )
    assert agent.gmail("/profile", token["access_token"]).status_code == 401
    again = agent.auth("gmail", "revoked@example.com")
    assert again["authorization_details"]["oauth_token"]["access_token"] == token["access_token"]
    assert again["status"] == "ACTIVE"
    # Once it lapses, the ordinary refresh replaces it with a working one.
    advance(sandbox, sandbox.settings.access_token_ttl)
    renewed = agent.access_token("gmail", "revoked@example.com")
    assert renewed != token["access_token"]
    assert agent.gmail("/profile", renewed).status_code == 200


def test_revoke_with_rotate_hands_out_a_new_token_next(sandbox: LiveSandbox, agent: Agent) -> None:
    token = agent.connect("gmail", "rotated@example.com")["authorization_details"]["oauth_token"]
    sandbox.admin(
        "POST",
        "/_sandbox/accounts/revoke",
        json={"connector": "gmail", "identifier": "rotated@example.com", "rotate": True},
    )
    assert agent.gmail("/profile", token["access_token"]).status_code == 401
    renewed = agent.auth("gmail", "rotated@example.com")["authorization_details"]["oauth_token"]
    assert renewed["access_token"] != token["access_token"]
    assert renewed["refresh_token"] == token["refresh_token"]
    assert agent.gmail("/profile", renewed["access_token"]).status_code == 200
    # Rotation happens once: the next read hands out the same new token.
    assert agent.access_token("gmail", "rotated@example.com") == renewed["access_token"]
