"""The official Python SDK's proxy helper (`actions.request`), unmodified, against `sk sandbox
serve --tls`: Calendar, Slack and an API-key Exa account through `/proxy`, on the state the SDK's
`execute_tool` (gRPC) sees."""

from __future__ import annotations

from scalekit import ScalekitClient

from scalekit_cli.sandbox.hosted_form import approve_as_browser
from tests.grpc import test_python_sdk as sdk_flows
from tests.grpc.served import ServedSandbox

# The SDK over TLS as its own flows run it: `sk sandbox serve --tls`, trusted through the
# variables it prints (a server of this module's own).
served = sdk_flows.served
sdk = sdk_flows.sdk

EXA_KEY = "CANARY-sdk-exa-key-5Jd8Lq"


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
    listed = actions.execute_tool(
        tool_input={"time_min": "2032-01-01T00:00:00Z"},
        tool_name="googlecalendar_list_events",
        identifier="sdk@example.com",
        connection_name="googlecalendar",
    )
    assert [event["id"] for event in listed.data["items"]] == [created.json()["id"]]

    _connect(served, "slack", "sdk@example.com")
    actions.execute_tool(
        tool_input={"channel": "engineering", "text": "posted by the SDK's tool"},
        tool_name="slack_send_message",
        identifier="sdk@example.com",
        connection_name="slack",
    )
    history = actions.request(
        connection_name="slack",
        identifier="sdk@example.com",
        path="/api/conversations.history",
        method="POST",
        form_data={"channel": "engineering", "limit": "1"},
    )
    assert history.status_code == 200, history.text
    assert [m["text"] for m in history.json()["messages"]] == ["posted by the SDK's tool"]


def test_an_api_key_account_through_the_sdk_proxy_helper(
    served: ServedSandbox, sdk: ScalekitClient
) -> None:
    actions = sdk.actions
    actions.create_connected_account(
        connection_name="exa",
        identifier="keyed",
        # The SDK's dict holds the details themselves; it wraps them in StaticAuth.details.
        authorization_details={"static_auth": {"api_key": EXA_KEY}},
    )
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
