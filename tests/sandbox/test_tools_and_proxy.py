"""The tool catalog, tool execution and the `/proxy` pass-through to the provider API."""

from __future__ import annotations

import pytest

from scalekit_cli.sandbox.tools import ToolInputError, check_input
from tests.conftest import LiveSandbox
from tests.sandbox.conftest import Agent, assert_gateway_error
from tests.sandbox.test_token_life import advance

TOOLS = "/api/v1/tools"
EXECUTE = "/api/v1/execute_tool"
TOOL_FIELDS = {"id", "provider", "definition", "metadata", "tags", "is_default", "updated_at"}


def _tools(agent: Agent, **params) -> dict:
    answer = agent.http.get(TOOLS, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_catalog_entries_have_exactly_the_documented_fields(agent: Agent) -> None:
    listing = _tools(agent)
    assert listing["total_size"] == len(listing["tools"]) >= 2
    for tool in listing["tools"]:
        assert set(tool) == TOOL_FIELDS
        assert tool["id"].startswith("tol_")
        definition = tool["definition"]
        assert set(definition) == {"name", "description", "input_schema"}
        assert definition["input_schema"]["type"] == "object"
    names = [tool["definition"]["name"] for tool in listing["tools"]]
    assert {"gmail_fetch_mails", "gmail_get_profile"} <= set(names)


def test_filters(agent: Agent) -> None:
    google = _tools(agent, **{"filter.provider": "google"})["tools"]
    assert google and all(tool["provider"] == "GOOGLE" for tool in google)
    gmail = _tools(agent, **{"filter.connector": "gmail"})["tools"]
    assert {t["definition"]["name"] for t in gmail} == {"gmail_fetch_mails", "gmail_get_profile"}
    picked = _tools(agent, **{"filter.tool_name": ["gmail_get_profile", "slack_send_message"]})
    assert sorted(t["definition"]["name"] for t in picked["tools"]) == [
        "gmail_get_profile",
        "slack_send_message",
    ]
    searched = _tools(agent, **{"filter.query": "PROFILE"})["tools"]
    assert [t["definition"]["name"] for t in searched] == ["gmail_get_profile"]
    summary = _tools(agent, **{"filter.summary": "true", "filter.connector": "gmail"})
    assert set(summary) == {"tool_names", "total_size"}
    assert sorted(summary["tool_names"]) == ["gmail_fetch_mails", "gmail_get_profile"]


def test_identifier_filter_keeps_tools_of_connected_connectors(agent: Agent) -> None:
    assert _tools(agent, **{"filter.identifier": "toolsy"})["total_size"] == 0
    agent.create("slack", "toolsy")
    names = _tools(agent, **{"filter.identifier": "toolsy", "filter.summary": "true"})
    assert names["tool_names"] == [
        "slack_list_channels",
        "slack_send_message",
        "slack_fetch_conversation_history",
    ]


def test_paging(agent: Agent) -> None:
    total = _tools(agent)["total_size"]
    seen: list[str] = []
    params: dict = {"page_size": 2}
    while True:
        page = _tools(agent, **params)
        seen += [tool["id"] for tool in page["tools"]]
        if "next_page_token" not in page:
            break
        params["page_token"] = page["next_page_token"]
    assert len(seen) == len(set(seen)) == total
    assert_gateway_error(agent.http.get(TOOLS, params={"page_token": "bogus"}), 400, 3)


def test_fetch_mails_returns_matching_messages(agent: Agent) -> None:
    agent.connect("gmail", "tooled@example.com")
    answer = agent.http.post(
        EXECUTE,
        json={
            "tool_name": "gmail_fetch_mails",
            "connector": "gmail",
            "identifier": "tooled@example.com",
            "params": {"query": "is:unread", "max_results": 5},
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"data", "execution_id"} and body["execution_id"]
    messages = body["data"]["messages"]
    assert len(messages) == 5
    for message in messages:
        assert {"id", "threadId", "snippet", "from", "subject", "date"} <= set(message)
        assert "UNREAD" in message["labelIds"]
    assert body["data"]["resultSizeEstimate"] >= 10
    assert "nextPageToken" in body["data"]
    # Unknown params are ignored, as the live service ignores unknown fields.
    lenient = agent.http.post(
        EXECUTE,
        json={
            "tool_name": "gmail_fetch_mails",
            "identifier": "tooled@example.com",
            "params": {"max_results": 1, "colour": "red"},
        },
    )
    assert len(lenient.json()["data"]["messages"]) == 1


def test_identifier_only_and_by_id_execution(agent: Agent) -> None:
    account = agent.connect("gmail", "profiled@example.com")
    by_identifier = agent.http.post(
        EXECUTE, json={"tool_name": "gmail_get_profile", "identifier": "profiled@example.com"}
    )
    by_id = agent.http.post(
        EXECUTE, json={"tool_name": "gmail_get_profile", "connected_account_id": account["id"]}
    )
    assert by_identifier.json()["data"] == by_id.json()["data"]
    assert by_id.json()["data"]["emailAddress"] == "profiled@example.com"
    assert by_id.json()["execution_id"] != by_identifier.json()["execution_id"]


def test_tool_runs_refresh_lapsed_tokens_and_record_use(sandbox: LiveSandbox, agent: Agent) -> None:
    before = agent.connect("gmail", "stale@example.com")
    advance(sandbox, 2 * sandbox.settings.access_token_ttl)
    answer = agent.http.post(
        EXECUTE, json={"tool_name": "gmail_get_profile", "identifier": "stale@example.com"}
    )
    assert answer.status_code == 200
    after = agent.details("gmail", "stale@example.com")
    assert after["token_expires_at"] > before["token_expires_at"]
    assert after["last_used_at"] > before["last_used_at"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"tool_name": "no_such_tool", "identifier": "x"}, 404, 5),
        ({"identifier": "x"}, 400, 3),
        ({"tool_name": "gmail_get_profile"}, 400, 3),
        ({"tool_name": "gmail_get_profile", "identifier": "nobody"}, 404, 5),
        ({"tool_name": "gmail_get_profile", "connected_account_id": "ca_1"}, 404, 5),
        ({"tool_name": "gmail_get_profile", "identifier": "x", "connector": "slack"}, 400, 3),
        ({"tool_name": "gmail_fetch_mails", "identifier": "x", "params": []}, 400, 3),
        (
            {"tool_name": "gmail_fetch_mails", "identifier": "x", "params": {"max_results": "5"}},
            400,
            3,
        ),
        (
            {"tool_name": "gmail_fetch_mails", "identifier": "x", "params": {"max_results": 0}},
            400,
            3,
        ),
        (
            {"tool_name": "gmail_fetch_mails", "identifier": "x", "params": {"label_ids": "INBOX"}},
            400,
            3,
        ),
        ({"tool_name": "slack_send_message", "identifier": "x", "params": {"text": "hi"}}, 400, 3),
        (
            {
                "tool_name": "slack_send_message",
                "identifier": "x",
                "params": {"chanel": "#a", "channel": "#a", "text": "hi"},
            },
            400,
            3,
        ),
    ],
)
def test_execute_errors(agent: Agent, body: dict, status: int, code: int) -> None:
    assert_gateway_error(agent.http.post(EXECUTE, json=body), status, code)


def test_execute_on_an_inactive_account_is_failed_precondition(agent: Agent) -> None:
    agent.create("gmail", "pending@example.com")
    answer = agent.http.post(
        EXECUTE, json={"tool_name": "gmail_get_profile", "identifier": "pending@example.com"}
    )
    assert_gateway_error(answer, 400, 9)


def test_execute_with_revoked_credentials_is_an_execution_failure(
    sandbox: LiveSandbox, agent: Agent
) -> None:
    agent.connect("gmail", "cut@example.com")
    sandbox.admin(
        "POST",
        "/_sandbox/accounts/revoke",
        json={"connector": "gmail", "identifier": "cut@example.com"},
    )
    answer = agent.http.post(
        EXECUTE, json={"tool_name": "gmail_get_profile", "identifier": "cut@example.com"}
    )
    assert_gateway_error(answer, 500, 13)


def test_other_connectors_tools_run(agent: Agent) -> None:
    agent.connect("slack", "team")
    sent = agent.http.post(
        EXECUTE,
        json={
            "tool_name": "slack_send_message",
            "identifier": "team",
            "params": {"channel": "#general", "text": "hi"},
        },
    )
    assert sent.status_code == 200
    assert sent.json()["data"]["ok"] is True
    assert sent.json()["data"]["channel"].startswith("C")  # Slack answers with the id


@pytest.mark.parametrize(
    ("schema", "value", "ok"),
    [
        ({"type": "integer"}, True, False),
        ({"type": "number"}, 1.5, True),
        ({"type": "array", "items": {"type": "string"}}, ["a", 1], False),
        ({"type": "string", "enum": ["a"]}, "b", False),
        ({"type": "object", "properties": {"a": {"type": "null"}}}, {"a": None, "b": 1}, True),
        ({"type": "integer", "maximum": 3}, 4, False),
        ({"type": "object", "additionalProperties": False}, {"extra": 1}, False),
        ({"type": "object", "required": ["a"]}, {}, False),
    ],
)
def test_input_checker(schema: dict, value, ok: bool) -> None:
    if ok:
        check_input(schema, value)
    else:
        with pytest.raises(ToolInputError):
            check_input(schema, value)


# --- proxy ---------------------------------------------------------------------------------


def _proxy(agent: Agent, path: str, connector: str | None, identifier: str | None, **params):
    headers = {}
    if connector is not None:
        headers["connection_name"] = connector
    if identifier is not None:
        headers["identifier"] = identifier
    return agent.http.get(f"/proxy{path}", headers=headers, params=params)


def test_proxy_calls_gmail_as_the_account(sandbox: LiveSandbox, agent: Agent) -> None:
    agent.connect("gmail", "proxied@example.com")
    profile = _proxy(agent, "/gmail/v1/users/me/profile", "gmail", "proxied@example.com")
    assert profile.status_code == 200, profile.text
    assert profile.json()["emailAddress"] == "proxied@example.com"
    listing = _proxy(
        agent,
        "/gmail/v1/users/me/messages",
        "gmail",
        "proxied@example.com",
        q="is:unread",
        maxResults=3,
    )
    assert len(listing.json()["messages"]) == 3
    # Lapsed tokens are refreshed on the way.
    advance(sandbox, 2 * sandbox.settings.access_token_ttl)
    assert (
        _proxy(agent, "/gmail/v1/users/me/profile", "gmail", "proxied@example.com").status_code
        == 200
    )
    missing = _proxy(agent, "/gmail/v1/users/me/nothing", "gmail", "proxied@example.com")
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"


def test_proxy_errors(sandbox: LiveSandbox, agent: Agent) -> None:
    path = "/gmail/v1/users/me/profile"
    assert_gateway_error(_proxy(agent, path, "gmail", None), 400, 3)
    assert_gateway_error(_proxy(agent, path, None, "x"), 400, 3)
    assert_gateway_error(_proxy(agent, path, "gmail", "nobody"), 404, 5)
    agent.create("gmail", "waiting@example.com")
    assert_gateway_error(_proxy(agent, path, "gmail", "waiting@example.com"), 400, 9)
    # A path its app does not serve answers in that app's shape (test_proxy_apps.py has more).
    agent.connect("notion", "docs")
    unknown = _proxy(agent, "/v1/nothing", "notion", "docs")
    assert unknown.status_code == 400 and unknown.json()["code"] == "invalid_request_url"
    # A revoked (not rotated) token reaches Gmail and is refused there, as it would be live.
    agent.connect("gmail", "revoked@example.com")
    sandbox.admin(
        "POST",
        "/_sandbox/accounts/revoke",
        json={"connector": "gmail", "identifier": "revoked@example.com"},
    )
    assert _proxy(agent, path, "gmail", "revoked@example.com").status_code == 401


def test_proxy_decodes_utf8_identifier_headers(agent: Agent) -> None:
    agent.connect("gmail", "zoë@example.com")
    answer = agent.http.get(
        "/proxy/gmail/v1/users/me/profile",
        headers=[("connection_name", b"gmail"), ("identifier", "zoë@example.com".encode())],
    )
    assert answer.status_code == 200, answer.text
