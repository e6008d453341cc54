"""The official Python SDK's proxy helper (`actions.request`), unmodified, against `sk sandbox
serve`: Calendar, Slack and an API-key Exa account through `/proxy`, on the state the tools
see. The helper is plain REST (`requests`), so this server needs no TLS; the rest of the SDK
over gRPC + TLS is test_python_sdk.py's (gRPC reads its CA bundle once per process)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from scalekit import ScalekitClient

from scalekit_cli.sandbox.hosted_form import approve_as_browser
from tests.grpc.served import ServedSandbox, start_served

EXA_KEY = "CANARY-sdk-exa-key-5Jd8Lq"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSandbox]:
    live = start_served(tmp_path_factory.mktemp("served-proxy"))
    yield live
    stderr = live.stop()
    assert "Traceback" not in stderr, stderr


@pytest.fixture(scope="module")
def sdk(served: ServedSandbox) -> ScalekitClient:
    exports = served.exports
    return ScalekitClient(
        exports["SCALEKIT_ENV_URL"],
        exports["SCALEKIT_CLIENT_ID"],
        exports["SCALEKIT_CLIENT_SECRET"],
    )


def _tool(served: ServedSandbox, tool: str, identifier: str, **params: Any) -> dict[str, Any]:
    answer = served.rest(
        "POST",
        "/api/v1/execute_tool",
        json={"tool_name": tool, "identifier": identifier, "params": params},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def _connect(served: ServedSandbox, connector: str, identifier: str) -> None:
    answer = served.rest(
        "POST",
        "/api/v1/connected_accounts/magic_link",
        json={"connector": connector, "identifier": identifier},
    )
    assert "Connected" in approve_as_browser(answer.json()["link"])


def test_calendar_and_slack_through_the_sdk_proxy_helper(
    served: ServedSandbox, sdk: ScalekitClient
) -> None:
    actions = sdk.actions
    _connect(served, "googlecalendar", "sdk@example.com")
    created = actions.request(
        connection_name="googlecalendar",
        identifier="sdk@example.com",
        path="/calendar/v3/calendars/primary/events",
        method="POST",
        body={
            "summary": "SDK standup",
            "start": {"dateTime": "2032-02-02T09:00:00Z"},
            "end": {"dateTime": "2032-02-02T09:15:00Z"},
        },
    )
    assert created.status_code == 200, created.text
    listed = _tool(
        served, "googlecalendar_list_events", "sdk@example.com", time_min="2032-01-01T00:00:00Z"
    )
    assert [event["id"] for event in listed["items"]] == [created.json()["id"]]

    _connect(served, "slack", "sdk@example.com")
    _tool(
        served, "slack_send_message", "sdk@example.com", channel="engineering", text="by the tool"
    )
    history = actions.request(
        connection_name="slack",
        identifier="sdk@example.com",
        path="/api/conversations.history",
        method="POST",
        form_data={"channel": "engineering", "limit": "1"},
    )
    assert history.status_code == 200, history.text
    assert [m["text"] for m in history.json()["messages"]] == ["by the tool"]


def test_an_api_key_account_through_the_sdk_proxy_helper(
    served: ServedSandbox, sdk: ScalekitClient
) -> None:
    actions = sdk.actions
    created = served.rest(
        "POST",
        "/api/v1/connected_accounts",
        json={
            "connector": "exa",
            "identifier": "keyed",
            "connected_account": {
                "authorization_details": {"static_auth": {"details": {"api_key": EXA_KEY}}}
            },
        },
    )
    assert created.status_code == 201, created.text
    found = actions.request(
        connection_name="exa",
        identifier="keyed",
        path="/search",
        method="POST",
        body={"query": "agents", "numResults": 2},
    )
    assert found.status_code == 200, found.text
    assert len(found.json()["results"]) == 2
    assert EXA_KEY not in found.text
