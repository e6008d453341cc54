"""The provider faces find the account a credential belongs to among the accounts of their
own app, and a call `/proxy` makes is the account it was made as: two accounts holding the
same static credential (or a key of a connection with no app) answer each as itself."""

from __future__ import annotations

import pytest

from scalekit_cli.sandbox.settings import default_connections
from tests.conftest import LiveSandbox
from tests.sandbox.conftest import Agent
from tests.sandbox.test_proxy_apps import EXTRA_CONNECTIONS, keyed, proxy


@pytest.fixture
def sandbox(sandbox_factory) -> LiveSandbox:
    return sandbox_factory(connections=[*default_connections(), *EXTRA_CONNECTIONS])


def _login(agent: Agent, connector: str, identifier: str) -> str:
    answer = proxy(agent, "GET", "/user", connector, identifier)
    assert answer.status_code == 200, answer.text
    return answer.json()["login"]


def test_a_key_shared_with_another_app_still_opens_github(agent: Agent) -> None:
    keyed(agent, "freshdesk-8", "desk", api_key="CANARY-shared-1")  # created first
    keyed(agent, "github-pat", "octo", token="CANARY-shared-1")
    assert _login(agent, "github-pat", "octo") == "octo"


def test_two_accounts_with_one_token_each_answer_as_itself(agent: Agent) -> None:
    keyed(agent, "github-pat", "first", token="CANARY-shared-2")
    keyed(agent, "github-pat", "second", token="CANARY-shared-2")
    assert _login(agent, "github-pat", "second") == "second"
    assert _login(agent, "github-pat", "first") == "first"


def test_a_non_ascii_token_opens_github(agent: Agent) -> None:
    keyed(agent, "github-pat", "accent", token="CANARY-clé")
    assert _login(agent, "github-pat", "accent") == "accent"
