"""The sandbox's Google Calendar, Slack and Notion tools through `sk exec-tool`: a deterministic
world per account that later calls see the earlier calls' effects in (a posted message in the
channel's history, a created event among the upcoming ones), persisted with the rest of the
sandbox state, per account, and emptied by a reset."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.cli.conftest import SandboxDriver, assert_one_error_line


def _run(sk, tool: str, user: str, **params) -> dict:
    result = sk("exec-tool", tool, "--user", user, "-d", json.dumps(params), "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["data"]


def _in(days: float, hours: float = 0) -> str:
    moment = datetime.now(UTC) + timedelta(days=days, hours=hours)
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_posted_message_shows_up_in_the_channels_history(sk, driver):
    driver.connect("slack", "team@example.com")
    listing = _run(sk, "slack_list_channels", "team@example.com")
    assert listing["ok"] is True and listing["response_metadata"] == {"next_cursor": ""}
    channels = {channel["name"]: channel for channel in listing["channels"]}
    assert list(channels) == ["general", "random", "engineering", "support"]
    general = channels["general"]
    assert general["id"].startswith("C") and general["is_member"] is True

    before = _run(sk, "slack_fetch_conversation_history", "team@example.com", channel="general")
    sent = _run(sk, "slack_send_message", "team@example.com", channel="#general", text="Ship it 🚢")
    assert sent["ok"] is True
    assert sent["channel"] == general["id"]  # Slack answers with the id, whatever was given
    assert sent["message"]["text"] == "Ship it 🚢" and sent["message"]["ts"] == sent["ts"]
    again = _run(
        sk, "slack_send_message", "team@example.com", channel=general["id"], text="Shipped."
    )
    assert float(again["ts"]) > float(sent["ts"])

    after = _run(sk, "slack_fetch_conversation_history", "team@example.com", channel="general")
    assert [m["text"] for m in after["messages"][:2]] == ["Shipped.", "Ship it 🚢"]
    assert after["messages"][1]["ts"] == sent["ts"]
    assert after["messages"][1]["user"] == sent["message"]["user"]
    assert after["messages"][2:] == before["messages"]
    other = _run(sk, "slack_fetch_conversation_history", "team@example.com", channel="random")
    assert "Ship it 🚢" not in [m["text"] for m in other["messages"]]
    limited = _run(
        sk, "slack_fetch_conversation_history", "team@example.com", channel="general", limit=1
    )
    assert [m["text"] for m in limited["messages"]] == ["Shipped."] and limited["has_more"]


def test_posting_to_a_channel_the_workspace_lacks_is_refused(sk, driver):
    driver.connect("slack", "team@example.com")
    result = sk(
        "exec-tool", "slack_send_message", "--user", "team@example.com",
        "-p", "channel=#nowhere", "-p", "text=hi",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "no channel '#nowhere'" in assert_one_error_line(result)
    history = _run(sk, "slack_fetch_conversation_history", "team@example.com", channel="general")
    assert "hi" not in [m["text"] for m in history["messages"]]


def test_a_created_event_shows_up_among_the_upcoming_ones(sk, driver):
    driver.connect("googlecalendar", "cal@example.com")
    before = _run(sk, "googlecalendar_list_events", "cal@example.com", max_results=250)
    assert before["kind"] == "calendar#events" and before["items"]
    now = datetime.now(UTC)
    starts = [datetime.fromisoformat(e["start"]["dateTime"]) for e in before["items"]]
    assert starts == sorted(starts)
    assert all(datetime.fromisoformat(e["end"]["dateTime"]) > now for e in before["items"])

    start, end = _in(3, 2), _in(3, 3)
    created = _run(
        sk,
        "googlecalendar_create_event",
        "cal@example.com",
        summary="Launch retro",
        start_time=start,
        end_time=end,
        location="Room Ada",
        attendees=["bo@example.com"],
    )
    assert created["kind"] == "calendar#event" and created["status"] == "confirmed"
    assert created["start"] == {"dateTime": start, "timeZone": "UTC"}
    assert created["end"] == {"dateTime": end, "timeZone": "UTC"}
    assert created["attendees"][1] == {"email": "bo@example.com", "responseStatus": "needsAction"}

    after = _run(sk, "googlecalendar_list_events", "cal@example.com", max_results=250)
    assert len(after["items"]) == len(before["items"]) + 1
    assert created in after["items"]
    starts = [datetime.fromisoformat(e["start"]["dateTime"]) for e in after["items"]]
    assert starts == sorted(starts)
    found = _run(sk, "googlecalendar_list_events", "cal@example.com", query="retro")
    assert [e["id"] for e in found["items"]] == [created["id"]]
    window = _run(
        sk, "googlecalendar_list_events", "cal@example.com", time_min=_in(3), time_max=_in(3, 4)
    )
    assert created["id"] in [e["id"] for e in window["items"]]
    earlier = _run(sk, "googlecalendar_list_events", "cal@example.com", time_max=_in(3, 1))
    assert created["id"] not in [e["id"] for e in earlier["items"]]
    first = _run(sk, "googlecalendar_list_events", "cal@example.com", max_results=2)
    rest = _run(
        sk, "googlecalendar_list_events", "cal@example.com", page_token=first["nextPageToken"]
    )
    assert [e["id"] for e in first["items"] + rest["items"]][:3] == [
        e["id"] for e in after["items"][:3]
    ]


def test_events_the_calendar_cannot_take_are_refused_and_not_stored(sk, driver):
    driver.connect("googlecalendar", "cal@example.com")
    before = _run(sk, "googlecalendar_list_events", "cal@example.com", max_results=250)
    cases = {
        "params.end_time must be after": {"start_time": _in(2), "end_time": _in(1)},
        "params.start_time must carry a time zone": {
            "start_time": "2030-01-01T10:00:00",
            "end_time": _in(2),
        },
        "params.end_time must be an RFC 3339 date-time": {
            "start_time": _in(1),
            "end_time": "tomorrow",
        },
    }
    for message, times in cases.items():
        params = json.dumps({"summary": "x", **times})
        result = sk(
            "exec-tool", "googlecalendar_create_event", "-u", "cal@example.com", "-d", params
        )
        assert result.exit_code == 1, result.stderr
        assert message in assert_one_error_line(result)
    # The schema itself is checked before sending: a missing field is named, nothing is run.
    missing = sk(
        "exec-tool", "googlecalendar_create_event", "-u", "cal@example.com",
        "-d", json.dumps({"summary": "x", "start_time": _in(1)}),
    )  # fmt: skip
    assert missing.exit_code == 2
    assert "end_time" in assert_one_error_line(missing)
    assert _run(sk, "googlecalendar_list_events", "cal@example.com", max_results=250) == before


def test_state_is_per_account(sk, driver):
    for user in ("ana@example.com", "bo@example.com"):
        driver.connect("slack", user)
    ana = _run(sk, "slack_list_channels", "ana@example.com")["channels"]
    bo = _run(sk, "slack_list_channels", "bo@example.com")["channels"]
    assert [c["name"] for c in ana] == [c["name"] for c in bo]
    assert {c["id"] for c in ana}.isdisjoint(c["id"] for c in bo)  # two workspaces
    assert _run(sk, "slack_list_channels", "ana@example.com")["channels"] == ana  # deterministic

    _run(sk, "slack_send_message", "ana@example.com", channel="general", text="only ana's")
    texts = [
        m["text"]
        for m in _run(sk, "slack_fetch_conversation_history", "bo@example.com", channel="general")[
            "messages"
        ]
    ]
    assert "only ana's" not in texts

    # A disconnected and reconnected account starts from a fresh world.
    assert sk("disconnect", "slack", "--user", "ana@example.com", "--yes").exit_code == 0
    driver.connect("slack", "ana@example.com")
    history = _run(sk, "slack_fetch_conversation_history", "ana@example.com", channel="general")
    assert "only ana's" not in [m["text"] for m in history["messages"]]


def test_notion_search_finds_pages_by_title_and_pages_through_them(sk, driver):
    driver.connect("notion", "wiki@example.com")
    everything = _run(sk, "notion_search_pages", "wiki@example.com")
    assert everything["object"] == "list" and everything["has_more"] is False
    pages = everything["results"]
    assert len(pages) == 8
    edited = [page["last_edited_time"] for page in pages]
    assert edited == sorted(edited, reverse=True)
    titles = [page["properties"]["title"]["title"][0]["plain_text"] for page in pages]
    assert "Engineering handbook" in titles
    assert all(
        page["object"] == "page" and page["url"].startswith("https://www.notion.so/")
        for page in pages
    )

    weekly = _run(sk, "notion_search_pages", "wiki@example.com", query="WEEKLY")
    assert [p["properties"]["title"]["title"][0]["plain_text"] for p in weekly["results"]] == [
        "Meeting notes — Weekly sync"
    ]
    first = _run(sk, "notion_search_pages", "wiki@example.com", page_size=3)
    assert first["has_more"] is True and first["next_cursor"] == pages[3]["id"]
    rest = _run(sk, "notion_search_pages", "wiki@example.com", start_cursor=first["next_cursor"])
    assert first["results"] + rest["results"] == pages
    assert _run(sk, "notion_search_pages", "wiki@example.com") == everything  # deterministic


def test_reset_clears_it(sk, driver, sandbox):
    driver.connect("slack", "team@example.com")
    _run(sk, "slack_send_message", "team@example.com", channel="general", text="before reset")
    sandbox.admin("POST", "/_sandbox/reset").raise_for_status()
    SandboxDriver(sandbox).connect("slack", "team@example.com")  # machine tokens went too
    history = _run(sk, "slack_fetch_conversation_history", "team@example.com", channel="general")
    assert "before reset" not in [m["text"] for m in history["messages"]]


def test_the_embedded_sandbox_persists_it_across_processes_until_reset(sk_process):
    env = {"SCALEKIT_ENV_URL": "", "SCALEKIT_CLIENT_ID": "", "SCALEKIT_CLIENT_SECRET": ""}

    def activate() -> None:
        # Creates the account; nobody approves, so the wait times out (exit 4).
        connect = ("--sandbox", "connect", "googlecalendar", "--user", "me", "--timeout", "2")
        assert sk_process(*connect, env=env).exit_code == 4
        force = ("sandbox", "force", "googlecalendar", "--user", "me", "--status", "ACTIVE")
        assert sk_process(*force, env=env).exit_code == 0

    def run(tool: str, **params) -> dict:
        result = sk_process(
            "--sandbox", "exec-tool", tool, "--user", "me", "-d", json.dumps(params), "--json",
            env=env,
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)["data"]

    activate()
    event = run(
        "googlecalendar_create_event", summary="Persisted", start_time=_in(1), end_time=_in(1, 1)
    )
    listed = run("googlecalendar_list_events", query="Persisted")  # another process
    assert [e["id"] for e in listed["items"]] == [event["id"]]
    assert sk_process("sandbox", "reset", "--yes", env=env).exit_code == 0
    activate()
    assert run("googlecalendar_list_events", query="Persisted")["items"] == []
