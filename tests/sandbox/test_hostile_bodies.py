"""Hostile JSON bodies against a live sandbox: a lone surrogate (`"\\ud800"`), NaN, nesting
past the recursion limit. Each is a 4xx (or the provider's own refusal), never a 500, and
leaves no state that later answers 500."""

from __future__ import annotations

import pytest

from scalekit_cli.sandbox.settings import default_connections
from tests.conftest import LiveSandbox
from tests.sandbox.conftest import Agent
from tests.sandbox.test_proxy_apps import EXTRA_CONNECTIONS, PRIMARY, proxy

JSON = {"content-type": "application/json"}
ACCOUNTS = "/api/v1/connected_accounts"
EVENT = '"start":{"dateTime":"2031-03-04T10:00:00Z"},"end":{"dateTime":"2031-03-04T11:00:00Z"}'


@pytest.fixture
def sandbox(sandbox_factory) -> LiveSandbox:
    return sandbox_factory(connections=[*default_connections(), *EXTRA_CONNECTIONS])


def _proxy_post(agent: Agent, path: str, connector: str, identifier: str, body: str):
    headers = {"connection_name": connector, "identifier": identifier, **JSON}
    return agent.http.post(f"/proxy{path}", headers=headers, content=body)


def test_provider_faces_refuse_what_no_answer_could_carry(agent: Agent, sandbox: LiveSandbox):
    agent.connect("googlecalendar", "cal@example.com")
    agent.connect("slack", "s@example.com")
    for body in (
        '{"summary":"\\ud800",' + EVENT + "}",
        '{"summary":"x","attendees":[{"email":"a@b.c","n":NaN}],' + EVENT + "}",
        "[" * 100000 + "]" * 100000,
    ):
        created = _proxy_post(agent, PRIMARY, "googlecalendar", "cal@example.com", body)
        assert created.status_code == 400, created.text
        assert created.json()["error"]["message"] == "Parse Error"
    listed = proxy(agent, "GET", PRIMARY, "googlecalendar", "cal@example.com")
    assert listed.status_code == 200, listed.text
    posted = _proxy_post(
        agent,
        "/api/chat.postMessage",
        "slack",
        "s@example.com",
        '{"channel":"general","text":"\\udc80"}',
    )
    assert posted.json() == {"ok": False, "error": "invalid_json"}


def test_a_lone_surrogate_in_a_secret_field_is_a_400(agent: Agent, sandbox: LiveSandbox):
    """The request log fingerprints secret-named fields; it crashed on a lone surrogate."""
    body = (
        '{"connector":"github-pat","identifier":"u","connected_account":{"authorization_details":'
        '{"static_auth":{"details":{"token":"T\\ud800"}}}}}'
    )
    answer = agent.http.post(ACCOUNTS, headers=JSON, content=body)
    assert answer.status_code == 400, answer.text


def test_nan_in_a_struct_is_a_400(agent: Agent, sandbox: LiveSandbox):
    body = (
        '{"connector":"github-pat","identifier":"u","connected_account":{"authorization_details":'
        '{"static_auth":{"details":{"token":"t","n":NaN}}}}}'
    )
    answer = agent.http.post(ACCOUNTS, headers=JSON, content=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["message"] == "a number in the request is NaN or infinite"


def test_calendar_times_at_the_ends_of_the_range(agent: Agent, sandbox: LiveSandbox):
    """An offset past year 1 is a 400; a year-1 event is stored as RFC 3339 (`0001-…`), so the
    calendar still lists (it answered 500 for good once one was in it)."""
    agent.connect("googlecalendar", "cal@example.com")
    query = "?timeMin=0001-01-01T00:00:00%2B14:00"
    listed = proxy(agent, "GET", PRIMARY + query, "googlecalendar", "cal@example.com")
    assert listed.status_code == 400, listed.text
    assert listed.json()["error"]["message"] == "timeMin is out of range in UTC"
    body = '{"summary":"Old","start":{"dateTime":"0001-01-01T00:00:00Z"},'
    body += '"end":{"dateTime":"0001-01-01T01:00:00Z"}}'
    created = _proxy_post(agent, PRIMARY, "googlecalendar", "cal@example.com", body)
    assert created.status_code == 200, created.text
    assert created.json()["start"]["dateTime"] == "0001-01-01T00:00:00Z"
    listed = proxy(agent, "GET", PRIMARY, "googlecalendar", "cal@example.com")
    assert listed.status_code == 200, listed.text
    assert "0001-01-01T00:00:00Z" in [item["start"]["dateTime"] for item in listed.json()["items"]]
