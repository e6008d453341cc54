"""Fixtures for the sandbox's behaviour tests: an authenticated HTTP client for a live sandbox
and helpers to drive the hosted page the way a browser form would."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import TLS, LiveSandbox

ACCOUNTS = "/api/v1/connected_accounts"


@dataclass
class Agent:
    """A machine client of one live sandbox: the bearer token is attached to every call."""

    live: LiveSandbox
    http: httpx.Client
    browser: httpx.Client  # no machine token: what a user's browser sends

    def create(self, connector: str, identifier: str, **extra: Any) -> dict[str, Any]:
        answer = self.http.post(
            ACCOUNTS,
            json={
                "connector": connector,
                "identifier": identifier,
                "connected_account": {},
                **extra,
            },
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["connected_account"]

    def auth(self, connector: str, identifier: str) -> dict[str, Any]:
        answer = self.http.get(
            f"{ACCOUNTS}/auth", params={"connector": connector, "identifier": identifier}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["connected_account"]

    def details(self, connector: str, identifier: str) -> dict[str, Any]:
        answer = self.http.get(
            f"{ACCOUNTS}/details", params={"connector": connector, "identifier": identifier}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["connected_account"]

    def magic_link(self, connector: str, identifier: str, **extra: Any) -> str:
        answer = self.http.post(
            f"{ACCOUNTS}/magic_link",
            json={"connector": connector, "identifier": identifier, **extra},
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["link"]

    def decide(self, link: str, decision: str = "allow", **form: str) -> httpx.Response:
        """Open the hosted page, then post the decision as its form would."""
        page = self.browser.get(link)
        assert page.status_code == 200, page.text
        return self.browser.post(link, data={"decision": decision, **form})

    def connect(self, connector: str, identifier: str) -> dict[str, Any]:
        """Create (if needed) and authorize an account; the answer of `/auth` afterwards."""
        link = self.magic_link(connector, identifier)
        assert self.decide(link).status_code == 200
        return self.auth(connector, identifier)

    def access_token(self, connector: str, identifier: str) -> str:
        return self.auth(connector, identifier)["authorization_details"]["oauth_token"][
            "access_token"
        ]

    def gmail(self, path: str, token: str, **params: Any) -> httpx.Response:
        return self.http.get(
            f"/gmail/v1/users/me{path}", params=params, headers={"Authorization": f"Bearer {token}"}
        )


def gateway_code(answer: httpx.Response) -> int:
    body = answer.json()
    assert set(body) == {"code", "message", "details"}, body
    assert body["details"][0]["@type"] == "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo"
    return body["code"]


def assert_gateway_error(answer: httpx.Response, status: int, code: int) -> None:
    assert answer.status_code == status, answer.text
    assert gateway_code(answer) == code


def token_link(text: str) -> str:
    """The first magic link in a page or JSON text."""
    match = re.search(r"https?://[^\s\"'<>]+/magic/[A-Za-z0-9_-]+", text)
    assert match, text
    return match.group(0)


def agent_for(live: LiveSandbox, browser: httpx.Client) -> Agent:
    http = httpx.Client(
        base_url=live.url,
        timeout=10,
        verify=TLS,
        headers={"Authorization": f"Bearer {live.machine_token()}"},
    )
    return Agent(live, http, browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[httpx.Client]:
    """One plain client for the whole session (building one costs ~50 ms of TLS set-up)."""
    with httpx.Client(timeout=10, verify=TLS) as client:
        yield client


@pytest.fixture
def agent(sandbox: LiveSandbox, browser: httpx.Client) -> Iterator[Agent]:
    made = agent_for(sandbox, browser)
    yield made
    made.http.close()


@pytest.fixture
def agent_factory(
    sandbox_factory: Callable[..., LiveSandbox], browser: httpx.Client
) -> Iterator[Callable[..., Agent]]:
    """Agents for sandboxes with custom settings."""
    made: list[Agent] = []

    def make(**overrides: Any) -> Agent:
        created = agent_for(sandbox_factory(**overrides), browser)
        made.append(created)
        return created

    yield make
    for created in made:
        created.http.close()
