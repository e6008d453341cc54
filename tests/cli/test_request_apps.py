"""`sk request` on the sandbox's Calendar, Slack, Notion, GitHub and Exa: the providers' own
paths through `/proxy`, on the state `sk exec-tool` sees, and static-credential accounts
whose stored key or password the proxy sends (never printed)."""

from __future__ import annotations

import json

import pytest

from scalekit_cli.sandbox.settings import Connection, default_connections
from tests.cli.conftest import SandboxDriver, assert_no_leak, assert_one_error_line
from tests.conftest import CANARY_CLIENT_SECRET, LiveSandbox

EVENTS = "/calendar/v3/calendars/primary/events"
PAT = "ghp_CANARYpat-7Hq2Zr9Lw4Xp"
EXA_KEY = "CANARYexa-kV3nQ8sW1mT6"


@pytest.fixture
def sandbox(sandbox_factory) -> LiveSandbox:
    return sandbox_factory(
        connections=[
            *default_connections(),
            Connection("github-pat", "GITHUB", "BEARER_TOKEN", app="github"),
            Connection("freshdesk-8", "FRESHDESK", "API_KEY"),  # no emulated app
        ]
    )


def _keyed(driver: SandboxDriver, connector: str, identifier: str, **details: str) -> None:
    answer = driver.api(
        "POST",
        "/api/v1/connected_accounts",
        json={
            "connector": connector,
            "identifier": identifier,
            "connected_account": {"authorization_details": {"static_auth": {"details": details}}},
        },
    )
    assert answer.status_code == 201, answer.text


def _ok(result) -> dict:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _tool(sk, tool: str, user: str, **params) -> dict:
    return _ok(sk("exec-tool", tool, "--user", user, "-d", json.dumps(params), "--json"))["data"]


def test_calendar_list_create_and_get_events(sk, driver):
    tokens = driver.connect("googlecalendar", "cal@example.com")["authorization_details"]
    listed = _ok(
        sk("request", "googlecalendar", "--user", "cal@example.com", EVENTS, "-q", "maxResults=3")
    )
    assert listed["kind"] == "calendar#events" and len(listed["items"]) == 3

    event = {
        "summary": "Launch review",
        "start": {"dateTime": "2031-05-01T15:00:00Z"},
        "end": {"dateTime": "2031-05-01T16:00:00Z"},
    }
    created = _ok(
        sk(
            "request",
            "googlecalendar",
            "--user",
            "cal@example.com",
            EVENTS,
            "-d",
            json.dumps(event),
        )
    )
    assert created["summary"] == "Launch review" and created["id"]
    fetched = _ok(
        sk("request", "googlecalendar", "--user", "cal@example.com", f"{EVENTS}/{created['id']}")
    )
    assert fetched == created
    # The tool reads the same calendar.
    upcoming = _tool(
        sk,
        "googlecalendar_list_events",
        "cal@example.com",
        time_min="2031-01-01T00:00:00Z",
    )
    assert [e["id"] for e in upcoming["items"]] == [created["id"]]

    missing = sk("request", "googlecalendar", "--user", "cal@example.com", f"{EVENTS}/nope")
    assert missing.exit_code == 1
    assert "answered HTTP 404: Not Found" in assert_one_error_line(missing)
    token = tokens["oauth_token"]
    assert_no_leak(missing, token["access_token"], CANARY_CLIENT_SECRET)


def test_slack_post_by_request_then_history_by_tool_and_back(sk, driver):
    driver.connect("slack", "team@example.com")
    posted = _ok(
        sk(
            "request", "slack", "--user", "team@example.com", "/api/chat.postMessage",
            "-d", json.dumps({"channel": "#general", "text": "from sk request"}),
        )
    )  # fmt: skip
    assert posted["ok"] is True
    history = _tool(sk, "slack_fetch_conversation_history", "team@example.com", channel="general")
    assert history["messages"][0]["text"] == "from sk request"
    assert history["messages"][0]["ts"] == posted["ts"]

    _tool(sk, "slack_send_message", "team@example.com", channel="general", text="from the tool")
    proxied = _ok(
        sk(
            "request", "slack", "--user", "team@example.com", "/api/conversations.history",
            "-q", f"channel={posted['channel']}", "-q", "limit=2",
        )
    )  # fmt: skip
    assert [m["text"] for m in proxied["messages"]] == ["from the tool", "from sk request"]

    # Slack reports failures inside a 200 answer; sk prints it as it came.
    failed = _ok(
        sk(
            "request", "slack", "--user", "team@example.com", "/api/chat.postMessage",
            "-d", json.dumps({"channel": "#nowhere", "text": "x"}),
        )
    )  # fmt: skip
    assert failed == {"ok": False, "error": "channel_not_found"}


def test_notion_search(sk, driver):
    driver.connect("notion", "docs")
    found = _ok(
        sk("request", "notion", "--user", "docs", "/v1/search", "-d", '{"query": "roadmap"}')
    )
    titles = [p["properties"]["title"]["title"][0]["plain_text"] for p in found["results"]]
    assert titles == ["Product roadmap 2026"]
    assert found == _tool(sk, "notion_search_pages", "docs", query="roadmap")


def test_static_credentials_are_sent_and_never_shown(sk, driver):
    _keyed(driver, "github-pat", "octo@example.com", token=PAT)
    _keyed(driver, "exa", "searcher", api_key=EXA_KEY)
    user = sk("request", "github-pat", "--user", "octo@example.com", "/user", "-v")
    assert _ok(user) == {"login": "octo", "type": "User"}
    search = sk(
        "request", "exa", "--user", "searcher", "/search", "-d", '{"query": "sk", "numResults": 1}'
    )
    assert _ok(search)["results"][0]["title"] == "sk — result 1"
    assert_no_leak(user, PAT, CANARY_CLIENT_SECRET)
    assert_no_leak(search, EXA_KEY, CANARY_CLIENT_SECRET)


def test_missing_or_revoked_static_credentials_are_refused(sk, driver, sandbox):
    _keyed(driver, "exa", "no-key", token="CANARYnot-an-api-key")
    refused = sk("request", "exa", "--user", "no-key", "/search", "-d", '{"query": "q"}')
    assert refused.exit_code == 1
    line = assert_one_error_line(refused)
    assert "HTTP 400" in line and "no api_key" in line, line

    _keyed(driver, "github-pat", "revoked@example.com", token=PAT)
    sandbox.admin(
        "POST",
        "/_sandbox/accounts/revoke",
        json={"connector": "github-pat", "identifier": "revoked@example.com"},
    )
    revoked = sk("request", "github-pat", "--user", "revoked@example.com", "/user")
    assert revoked.exit_code == 1
    assert "answered HTTP 401: Bad credentials" in assert_one_error_line(revoked)
    assert_no_leak(revoked, PAT)


def test_a_connection_without_an_app(sk, driver):
    _keyed(driver, "freshdesk-8", "helpdesk", api_key=EXA_KEY)
    result = sk("request", "freshdesk-8", "--user", "helpdesk", "/api/v2/tickets")
    assert result.exit_code == 1
    line = assert_one_error_line(result)
    assert "HTTP 404" in line and "emulates no API for connector 'freshdesk-8'" in line, line
    assert_no_leak(result, EXA_KEY)
