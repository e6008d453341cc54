"""Machine tokens (`/oauth/token` and the bearer check) and the admin surface's guard."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest

from scalekit_cli.sandbox import SandboxSettings, create_app
from scalekit_cli.sandbox.admin import is_loopback
from tests.conftest import LiveSandbox
from tests.sandbox.conftest import ACCOUNTS, Agent, assert_gateway_error


def _token_request(browser: httpx.Client, live_url: str, **form: str) -> httpx.Response:
    return browser.post(f"{live_url}/oauth/token", data=form)


def test_token_answer(sandbox: LiveSandbox, browser: httpx.Client) -> None:
    answer = _token_request(
        browser,
        sandbox.url,
        grant_type="client_credentials",
        client_id=sandbox.settings.client_id,
        client_secret=sandbox.settings.client_secret,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == sandbox.settings.machine_token_ttl
    assert answer.headers["cache-control"] == "no-store"


def test_basic_client_authentication_is_accepted(
    sandbox: LiveSandbox, browser: httpx.Client
) -> None:
    pair = f"{sandbox.settings.client_id}:{sandbox.settings.client_secret}".encode()
    answer = browser.post(
        f"{sandbox.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(pair).decode()},
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "skc_someone_else"}, 401, "invalid_client"),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ({"grant_type": ""}, 400, "invalid_request"),
        ({"client_secret": ""}, 400, "invalid_request"),
    ],
)
def test_token_failures_use_oauth_error_bodies(
    sandbox: LiveSandbox, browser: httpx.Client, form, status, error
) -> None:
    good = {
        "grant_type": "client_credentials",
        "client_id": sandbox.settings.client_id,
        "client_secret": sandbox.settings.client_secret,
    }
    answer = _token_request(browser, sandbox.url, **{**good, **form})
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert answer.json()["error_description"]


@pytest.mark.parametrize(
    "authorization", [None, "Bearer", "Bearer not-a-token", "Basic abc", "bearer x y"]
)
def test_api_calls_without_a_live_token_are_401_code_16(
    sandbox: LiveSandbox, browser: httpx.Client, authorization
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in (
        ("GET", ACCOUNTS),
        ("POST", "/api/v1/execute_tool"),
        ("GET", "/api/v1/tools"),
        ("GET", "/proxy/gmail/v1/users/me/profile"),
    ):
        answer = browser.request(method, f"{sandbox.url}{path}", headers=headers, json={})
        assert_gateway_error(answer, 401, 16)


def test_machine_token_expires_on_the_sandbox_clock(sandbox: LiveSandbox, agent: Agent) -> None:
    assert agent.http.get(ACCOUNTS).status_code == 200
    sandbox.admin(
        "POST", "/_sandbox/clock", json={"advance_seconds": sandbox.settings.machine_token_ttl - 5}
    )
    assert agent.http.get(ACCOUNTS).status_code == 200
    sandbox.admin("POST", "/_sandbox/clock", json={"advance_seconds": 10})
    assert_gateway_error(agent.http.get(ACCOUNTS), 401, 16)
    # A new token is issued on the moved clock and works.
    fresh = sandbox.machine_token()
    assert (
        agent.browser.get(
            f"{sandbox.url}{ACCOUNTS}", headers={"Authorization": f"Bearer {fresh}"}
        ).status_code
        == 200
    )


def test_revoking_machine_tokens_refuses_old_ones_only(sandbox: LiveSandbox, agent: Agent) -> None:
    revoked = sandbox.admin("POST", "/_sandbox/machine_tokens/revoke").json()
    assert revoked["revoked"] >= 1
    assert_gateway_error(agent.http.get(ACCOUNTS), 401, 16)
    fresh = sandbox.machine_token()
    answer = agent.browser.get(
        f"{sandbox.url}{ACCOUNTS}", headers={"Authorization": f"Bearer {fresh}"}
    )
    assert answer.status_code == 200


def test_unknown_api_route_is_gateway_404(agent: Agent) -> None:
    assert_gateway_error(agent.http.get("/api/v1/nothing_here"), 404, 5)
    assert_gateway_error(agent.http.delete(ACCOUNTS), 404, 5)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("203.0.113.9", False),
        ("10.0.0.1", False),
        ("::ffff:203.0.113.9", False),
        ("testclient", False),
        (None, False),
    ],
)
def test_loopback_detection(host, loopback) -> None:
    assert is_loopback(host) is loopback


ADMIN_CALLS = [
    ("GET", "/_sandbox/requests"),
    ("DELETE", "/_sandbox/requests"),
    ("GET", "/_sandbox/faults"),
    ("POST", "/_sandbox/faults"),
    ("DELETE", "/_sandbox/faults"),
    ("POST", "/_sandbox/clock"),
    ("POST", "/_sandbox/reset"),
    ("POST", "/_sandbox/settings"),
    ("POST", "/_sandbox/machine_tokens/revoke"),
    ("POST", "/_sandbox/accounts/status"),
    ("POST", "/_sandbox/accounts/revoke"),
]


LOOPBACK = "http://127.0.0.1:8765"  # a Host the sandbox serves


def test_admin_refuses_remote_callers() -> None:
    app = create_app(SandboxSettings())

    async def run() -> None:
        remote = httpx.ASGITransport(app=app, client=("203.0.113.9", 5000))
        local = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=remote, base_url=LOOPBACK) as outsider:
            for method, path in ADMIN_CALLS:
                answer = await outsider.request(method, path, json={"advance_seconds": 60})
                assert answer.status_code == 403, (method, path)
                assert "loopback" in answer.json()["error"]
        async with httpx.AsyncClient(transport=local, base_url=LOOPBACK) as insider:
            assert (await insider.get("/_sandbox/requests")).status_code == 200

    asyncio.run(run())
    # The refused clock change did not happen.
    assert app.state.sandbox.clock_offset() == 0


def test_admin_is_not_logged_nor_faulted(sandbox: LiveSandbox) -> None:
    sandbox.fault(path="/_sandbox/*", kind="status", status=500)
    sandbox.fault(path="/*", kind="status", status=503, method="DELETE")
    sandbox.clear_requests()
    assert sandbox.admin("GET", "/_sandbox/faults").status_code == 200
    assert sandbox.requests() == []
    faults = sandbox.admin("GET", "/_sandbox/faults").json()["faults"]
    assert [fault["hits"] for fault in faults] == [0, 0]


def test_settings_change_live(sandbox: LiveSandbox, agent: Agent) -> None:
    changed = sandbox.admin(
        "POST", "/_sandbox/settings", json={"link_ttl": 30, "access_token_ttl": 120}
    ).json()
    assert changed["link_ttl"] == 30 and changed["access_token_ttl"] == 120
    account = agent.connect("gmail", "ttl@example.com")
    link_answer = agent.http.post(
        f"{ACCOUNTS}/magic_link", json={"connector": "gmail", "identifier": "ttl@example.com"}
    ).json()
    from tests.sandbox.test_token_life import seconds_until

    assert 25 <= seconds_until(link_answer["expiry"], sandbox) <= 31
    assert 115 <= seconds_until(account["token_expires_at"], sandbox) <= 121
    refused = agent.browser.post(
        f"{sandbox.url}/_sandbox/settings", json={"user_verification": "nobody"}
    )
    assert refused.status_code == 400
