"""`/proxy` on every emulated app: Calendar, Slack and Notion on their providers' own paths,
reading and writing the state the tools use; GitHub and Exa behind static credentials; and a
connection the sandbox emulates no API for."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from scalekit_cli.sandbox.settings import Connection, default_connections
from tests.conftest import LiveSandbox
from tests.sandbox.conftest import Agent, assert_gateway_error

PRIMARY = "/calendar/v3/calendars/primary/events"
EXTRA_CONNECTIONS = [
    Connection("github-pat", "GITHUB", "BEARER_TOKEN", app="github"),
    Connection("github-basic", "GITHUB", "BASIC_AUTH", app="github"),
    Connection("freshdesk-8", "FRESHDESK", "API_KEY"),  # no emulated app
]


@pytest.fixture
def sandbox(sandbox_factory) -> LiveSandbox:
    return sandbox_factory(connections=[*default_connections(), *EXTRA_CONNECTIONS])


def proxy(
    agent: Agent, method: str, path: str, connector: str, identifier: str, **kwargs: Any
) -> httpx.Response:
    headers = {"connection_name": connector, "identifier": identifier}
    return agent.http.request(method, f"/proxy{path}", headers=headers, **kwargs)


def run_tool(agent: Agent, tool: str, identifier: str, **params: Any) -> dict[str, Any]:
    answer = agent.http.post(
        "/api/v1/execute_tool",
        json={"tool_name": tool, "identifier": identifier, "params": params},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def keyed(agent: Agent, connector: str, identifier: str, **details: str) -> dict[str, Any]:
    return agent.create(
        connector,
        identifier,
        connected_account={"authorization_details": {"static_auth": {"details": details}}},
    )


# --- Google Calendar -------------------------------------------------------------------------


def test_calendar_events_are_one_state_for_proxy_and_tool(agent: Agent) -> None:
    agent.connect("googlecalendar", "cal@example.com")
    start = "2031-03-04T10:00:00Z"
    created = proxy(
        agent,
        "POST",
        PRIMARY,
        "googlecalendar",
        "cal@example.com",
        json={
            "summary": "Proxy planning",
            "location": "Room Ada",
            "start": {"dateTime": start},
            "end": {"dateTime": "2031-03-04T11:00:00+01:00"},  # 10:00Z: an empty range
        },
    )
    assert created.status_code == 400, created.text
    assert created.json()["error"]["message"] == "The specified time range is empty."

    created = proxy(
        agent,
        "POST",
        PRIMARY,
        "googlecalendar",
        "cal@example.com",
        json={
            "summary": "Proxy planning",
            "start": {"dateTime": start},
            "end": {"dateTime": "2031-03-04T12:30:00+01:00"},
            "attendees": [{"email": "ana@example.com"}],
        },
    )
    assert created.status_code == 200, created.text
    event = created.json()
    assert event["kind"] == "calendar#event" and event["summary"] == "Proxy planning"
    assert (
        event["start"]["dateTime"] == start and event["end"]["dateTime"] == "2031-03-04T11:30:00Z"
    )
    assert [a["email"] for a in event["attendees"]] == ["cal@example.com", "ana@example.com"]

    # The tool sees the proxy's event, and the proxy the tool's.
    listed = run_tool(
        agent, "googlecalendar_list_events", "cal@example.com", time_min="2031-01-01T00:00:00Z"
    )
    assert [e["id"] for e in listed["items"]] == [event["id"]]
    by_tool = run_tool(
        agent,
        "googlecalendar_create_event",
        "cal@example.com",
        summary="Tool retro",
        start_time="2031-03-05T09:00:00Z",
        end_time="2031-03-05T09:30:00Z",
    )
    window = {"timeMin": "2031-03-01T00:00:00Z", "timeMax": "2031-04-01T00:00:00Z"}
    page = proxy(agent, "GET", PRIMARY, "googlecalendar", "cal@example.com", params=window)
    assert page.status_code == 200, page.text
    assert page.json()["kind"] == "calendar#events"
    assert [e["summary"] for e in page.json()["items"]] == ["Proxy planning", "Tool retro"]

    fetched = proxy(agent, "GET", f"{PRIMARY}/{by_tool['id']}", "googlecalendar", "cal@example.com")
    assert fetched.status_code == 200 and fetched.json() == by_tool


def test_calendar_list_pages_and_its_errors(sandbox: LiveSandbox, agent: Agent) -> None:
    agent.connect("googlecalendar", "pages@example.com")
    first = proxy(
        agent, "GET", PRIMARY, "googlecalendar", "pages@example.com", params={"maxResults": 4}
    ).json()
    # No timeMin: every event, the seeded ones included (six), soonest first.
    assert len(first["items"]) == 4 and "nextPageToken" in first
    rest = proxy(
        agent,
        "GET",
        PRIMARY,
        "googlecalendar",
        "pages@example.com",
        params={"maxResults": 4, "pageToken": first["nextPageToken"]},
    ).json()
    assert len(rest["items"]) == 2 and "nextPageToken" not in rest
    starts = [e["start"]["dateTime"] for e in first["items"] + rest["items"]]
    assert starts == sorted(starts)

    def status(method: str, path: str, **kwargs: Any) -> tuple[int, str]:
        answer = proxy(agent, method, path, "googlecalendar", "pages@example.com", **kwargs)
        return answer.status_code, answer.json()["error"]["message"]

    address = "/calendar/v3/calendars/pages@example.com/events"
    assert proxy(agent, "GET", address, "googlecalendar", "pages@example.com").status_code == 200
    assert status("GET", "/calendar/v3/calendars/other@example.com/events") == (404, "Not Found")
    assert status("GET", f"{PRIMARY}/nosuchevent") == (404, "Not Found")
    assert status("GET", PRIMARY, params={"timeMin": "tomorrow"})[0] == 400
    assert status("GET", PRIMARY, params={"maxResults": "0"})[0] == 400
    assert status("POST", PRIMARY, json={"summary": "no times"}) == (400, "Missing start time.")
    times = {
        "start": {"dateTime": "2031-01-01T10:00:00Z"},
        "end": {"dateTime": "2031-01-01T11:00:00Z"},
    }
    for wrong in ({"attendees": 5}, {"attendees": ["a@b.c"]}, {"summary": 3}):
        assert status("POST", PRIMARY, json={**times, **wrong})[0] == 400, wrong
    assert status("POST", PRIMARY, json=[times]) == (400, "Parse Error")
    assert status("POST", PRIMARY, json={**times, "start": {"date": "2031-01-01"}})[0] == 400
    assert status("GET", "/gmail/v1/users/me/profile")[0] == 404  # not this app's path
    # A revoked token reaches Calendar, which refuses it as Google does.
    sandbox.admin(
        "POST",
        "/_sandbox/accounts/revoke",
        json={"connector": "googlecalendar", "identifier": "pages@example.com"},
    )
    refused = proxy(agent, "GET", PRIMARY, "googlecalendar", "pages@example.com")
    assert refused.status_code == 401 and refused.json()["error"]["status"] == "UNAUTHENTICATED"
    assert refused.headers["www-authenticate"].startswith("Bearer realm=")


# --- Slack -----------------------------------------------------------------------------------


def slack(agent: Agent, method: str, identifier: str, **arguments: Any) -> dict[str, Any]:
    answer = proxy(agent, "POST", f"/api/{method}", "slack", identifier, json=arguments)
    assert answer.status_code == 200, answer.text  # Slack: failures too are HTTP 200
    return answer.json()


def test_slack_post_and_history_through_tool_and_proxy(agent: Agent) -> None:
    agent.connect("slack", "team@example.com")
    channels = slack(agent, "conversations.list", "team@example.com")
    assert channels["ok"] is True
    assert channels == run_tool(agent, "slack_list_channels", "team@example.com")
    general = next(c["id"] for c in channels["channels"] if c["name"] == "general")

    posted = slack(agent, "chat.postMessage", "team@example.com", channel=general, text="via proxy")
    assert posted["ok"] is True and posted["channel"] == general
    assert posted["message"]["text"] == "via proxy"
    history = run_tool(
        agent, "slack_fetch_conversation_history", "team@example.com", channel="general"
    )
    assert history["messages"][0]["text"] == "via proxy"
    assert history["messages"][0]["ts"] == posted["ts"]

    run_tool(agent, "slack_send_message", "team@example.com", channel="#general", text="by tool")
    # conversations.history as a GET with query arguments, as Slack also takes.
    answer = proxy(
        agent,
        "GET",
        "/api/conversations.history",
        "slack",
        "team@example.com",
        params={"channel": general, "limit": 2},
    ).json()
    assert answer["ok"] is True and answer["has_more"] is True
    assert [m["text"] for m in answer["messages"]] == ["by tool", "via proxy"]
    following = slack(
        agent,
        "conversations.history",
        "team@example.com",
        channel=general,
        limit=2,
        cursor=answer["response_metadata"]["next_cursor"],
    )
    assert [m["text"] for m in following["messages"]] == [
        "All-hands moved to Thursday 16:00 UTC.",
        "Welcome to the workspace! 👋",
    ]


def test_slack_errors_use_its_envelope(agent: Agent) -> None:
    agent.connect("slack", "errs@example.com")

    def error(method: str, **arguments: Any) -> str:
        answer = slack(agent, method, "errs@example.com", **arguments)
        assert answer["ok"] is False, answer
        return answer["error"]

    assert error("chat.postMessage", channel="nowhere", text="x") == "channel_not_found"
    assert error("chat.postMessage", channel="general") == "no_text"
    assert error("chat.postMessage", channel="general", text="x" * 40001) == "msg_too_long"
    assert error("conversations.history") == "channel_not_found"
    assert error("conversations.list", cursor="nonsense") == "invalid_cursor"
    assert error("conversations.list", limit=0) == "invalid_limit"
    assert error("users.list") == "unknown_method"
    # A form-encoded call, as Slack's own clients send.
    form = proxy(
        agent,
        "POST",
        "/api/chat.postMessage",
        "slack",
        "errs@example.com",
        data={"channel": "random", "text": "form"},
    )
    assert form.json()["ok"] is True and form.json()["message"]["text"] == "form"


# --- Notion ----------------------------------------------------------------------------------


def test_notion_search_and_pages(agent: Agent) -> None:
    agent.connect("notion", "docs")
    found = proxy(agent, "POST", "/v1/search", "notion", "docs", json={"query": "weekly"})
    assert found.status_code == 200, found.text
    assert found.json() == run_tool(agent, "notion_search_pages", "docs", query="weekly")
    (page,) = found.json()["results"]
    assert page["properties"]["title"]["title"][0]["plain_text"] == "Meeting notes — Weekly sync"

    everything = proxy(agent, "POST", "/v1/search", "notion", "docs", json={"page_size": 5})
    assert len(everything.json()["results"]) == 5 and everything.json()["has_more"] is True
    databases = proxy(
        agent,
        "POST",
        "/v1/search",
        "notion",
        "docs",
        json={"filter": {"property": "object", "value": "database"}},
    )
    assert databases.json()["results"] == []

    fetched = proxy(agent, "GET", f"/v1/pages/{page['id'].replace('-', '')}", "notion", "docs")
    assert fetched.status_code == 200 and fetched.json() == page

    missing = proxy(
        agent, "GET", "/v1/pages/00000000-0000-4000-8000-000000000000", "notion", "docs"
    )
    assert missing.status_code == 404
    assert missing.json()["object"] == "error" and missing.json()["code"] == "object_not_found"
    for answer, code in (
        (proxy(agent, "GET", "/v1/pages/not-a-uuid", "notion", "docs"), "validation_error"),
        (
            proxy(agent, "POST", "/v1/search", "notion", "docs", json={"page_size": 101}),
            "validation_error",
        ),
        (
            proxy(agent, "POST", "/v1/search", "notion", "docs", json={"start_cursor": "x"}),
            "validation_error",
        ),
        (proxy(agent, "GET", "/v1/databases", "notion", "docs"), "invalid_request_url"),
    ):
        assert answer.status_code == 400 and answer.json()["code"] == code, answer.text


# --- static credentials ----------------------------------------------------------------------


def test_static_credentials_authenticate_proxy_calls(agent: Agent) -> None:
    # Each account is told apart by its own credential: the GitHub face answers with the
    # login of the account the token (or username and password) belongs to.
    keyed(agent, "github-pat", "ana@example.com", token="ghp_CANARYana0123456789")
    keyed(agent, "github-pat", "bo@example.com", bearer_token="ghp_CANARYbo0123456789")
    keyed(agent, "github-basic", "cy@example.com", username="cy", password="CANARYpw-cy-01")
    for connector, identifier, login in (
        ("github-pat", "ana@example.com", "ana"),
        ("github-pat", "bo@example.com", "bo"),
        ("github-basic", "cy@example.com", "cy"),
    ):
        answer = proxy(agent, "GET", "/user", connector, identifier)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"login": login, "type": "User"}

    keyed(agent, "exa", "searcher", api_key="CANARY-exa-key-000111")
    found = proxy(
        agent, "POST", "/search", "exa", "searcher", json={"query": "sk", "numResults": 2}
    )
    assert found.status_code == 200, found.text
    assert [r["title"] for r in found.json()["results"]] == ["sk — result 1", "sk — result 2"]
    refused = proxy(agent, "POST", "/search", "exa", "searcher", json={"numResults": 2})
    assert refused.status_code == 400 and refused.json() == {"error": "query is required"}


def test_the_hosted_api_key_form_gives_a_working_key(agent: Agent) -> None:
    link = agent.magic_link("exa", "via-form")
    assert agent.decide(link, api_key="CANARY-form-key-42").status_code == 200
    found = proxy(agent, "POST", "/search", "exa", "via-form", json={"query": "q"})
    assert found.status_code == 200, found.text
    assert len(found.json()["results"]) == 3


def test_missing_or_revoked_static_credentials_are_refused(
    sandbox: LiveSandbox, agent: Agent
) -> None:
    # Missing: the proxy has nothing to send (the field the connection's type needs is absent).
    keyed(agent, "exa", "wrong-field", token="not-an-api-key")
    keyed(agent, "github-basic", "no-password", username="dee")
    agent.create("github-pat", "pending")
    for connector, identifier in (("exa", "wrong-field"), ("github-basic", "no-password")):
        answer = proxy(agent, "GET", "/user", connector, identifier)
        assert_gateway_error(answer, 400, 9)
        assert answer.json()["details"][0]["error_code"] == "CONNECTED_ACCOUNT_CREDENTIALS_MISSING"
    assert_gateway_error(proxy(agent, "GET", "/user", "github-pat", "pending"), 400, 9)

    # Invalid: the provider no longer accepts the stored key; its own 401 comes back.
    keyed(agent, "github-pat", "revoked@example.com", token="ghp_CANARYrevoked99")
    assert proxy(agent, "GET", "/user", "github-pat", "revoked@example.com").status_code == 200
    sandbox.admin(
        "POST",
        "/_sandbox/accounts/revoke",
        json={"connector": "github-pat", "identifier": "revoked@example.com"},
    )
    answer = proxy(agent, "GET", "/user", "github-pat", "revoked@example.com")
    assert answer.status_code == 401
    assert answer.json()["message"] == "Bad credentials"
    keyed(agent, "exa", "revoked-key", api_key="CANARY-exa-revoked")
    sandbox.admin(
        "POST", "/_sandbox/accounts/revoke", json={"connector": "exa", "identifier": "revoked-key"}
    )
    answer = proxy(agent, "POST", "/search", "exa", "revoked-key", json={"query": "q"})
    assert answer.status_code == 401 and answer.json() == {"error": "Invalid API key"}
    # A new key (`sk accounts update`'s PUT) works again.
    updated = agent.http.put(
        "/api/v1/connected_accounts",
        json={
            "connector": "exa",
            "identifier": "revoked-key",
            "connected_account": {
                "authorization_details": {"static_auth": {"details": {"api_key": "CANARY-new"}}}
            },
        },
    )
    assert updated.status_code == 200, updated.text
    answer = proxy(agent, "POST", "/search", "exa", "revoked-key", json={"query": "q"})
    assert answer.status_code == 200, answer.text
    # A static credential cannot be rotated.
    rotate = httpx.post(
        f"{sandbox.url}/_sandbox/accounts/revoke",
        json={"connector": "exa", "identifier": "revoked-key", "rotate": True},
    )
    assert rotate.status_code == 400


def test_a_connection_without_an_app_has_no_proxy_target(agent: Agent) -> None:
    keyed(agent, "freshdesk-8", "helpdesk", api_key="CANARY-fd-key-123")
    answer = proxy(agent, "GET", "/api/v2/tickets", "freshdesk-8", "helpdesk")
    assert_gateway_error(answer, 404, 5)
    assert answer.json()["details"][0]["error_code"] == "PROXY_TARGET_NOT_FOUND"
    assert "freshdesk-8" in answer.json()["message"]


def test_a_provider_face_accepts_only_its_own_apps_credentials(
    sandbox: LiveSandbox, agent: Agent
) -> None:
    """A Calendar account's token is no Slack token, and an unknown key is no key."""
    from scalekit_cli.sandbox.provider_auth import Unauthenticated, provider_account

    agent.connect("googlecalendar", "both@example.com")
    token = agent.access_token("googlecalendar", "both@example.com")
    keyed(agent, "exa", "keyholder", api_key="CANARY-exa-own-key")
    engine = sandbox.engine
    assert provider_account(engine, "googlecalendar", f"Bearer {token}").identifier == (
        "both@example.com"
    )
    assert provider_account(engine, "exa", "Bearer CANARY-exa-own-key").identifier == "keyholder"
    for app, authorization, missing in (
        ("slack", f"Bearer {token}", False),
        ("googlecalendar", "Bearer CANARY-exa-own-key", False),
        ("exa", "Bearer CANARY-exa-other-key", False),
        ("exa", "Basic a2V5aG9sZGVyOng=", False),
        ("exa", "", True),
    ):
        with pytest.raises(Unauthenticated) as refusal:
            provider_account(engine, app, authorization)
        assert refusal.value.missing is missing
