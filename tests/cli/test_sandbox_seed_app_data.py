"""`accounts[].app_data` in a seed file: the installed `sk` serves exactly the declared Gmail
messages, Calendar events, Slack channels and Notion pages through the tools and the proxy;
bad app data is refused whole (exit 2, the key named, state untouched); export then seed
keeps it."""

from __future__ import annotations

import json
import tomllib

import pytest

SEED = """version = 1

[[accounts]]
connection = "gmail"
identifier = "ada"
status = "ACTIVE"
[[accounts.app_data.messages]]
from = "Bob <bob@example.com>"
subject = "Ship it"
body = "Release at noon."
date = 2026-11-30T09:00:00+01:00
labels = ["INBOX", "UNREAD"]
id = "00000000000000a1"
[[accounts.app_data.messages]]
from = "carol@example.com"
subject = "Old news"
body = "Already read."
date = "2026-11-01T10:00:00Z"

[[accounts]]
connection = "googlecalendar"
identifier = "ada"
status = "ACTIVE"
[[accounts.app_data.events]]
summary = "Board meeting"
start = "2030-01-02T10:00:00Z"
end = "2030-01-02T11:00:00Z"
location = "Room 1"
id = "board2030"
[[accounts.app_data.events]]
summary = "Retro"
start = 2030-01-01T15:00:00Z
end = 2030-01-01T15:30:00Z

[[accounts]]
connection = "slack"
identifier = "ada"
status = "ACTIVE"
[[accounts.app_data.channels]]
name = "launch"
topic = "Launch day"
messages = [
  { text = "T minus one", ts = "1790000000.000100", user = "U0ADA" },
  { text = "Go!", ts = "1790000060.000100" },
]
[[accounts.app_data.channels]]
name = "quiet"

[[accounts]]
connection = "notion"
identifier = "ada"
status = "ACTIVE"
[[accounts.app_data.pages]]
title = "Runbook"
id = "6f1c2a7e-2b1d-4c1e-9a5e-0d3c1e2f4a5b"
last_edited_time = 2026-11-20T08:00:00Z
[[accounts.app_data.pages]]
title = "Ideas"
"""


EVENTS = "/calendar/v3/calendars/primary/events"
LATER = "2029-01-01T00:00:00Z"  # the declared events are after it, the sandbox's clock before


@pytest.fixture
def run(sk_process):
    def invoke(*args: str, code: int = 0):
        result = sk_process(*args)
        assert result.exit_code == code, (args, result.stderr)
        return json.loads(result.stdout) if "--json" in args else result

    return invoke


def _tool(run, name: str, connector: str, *params: str) -> dict:
    args = ("--sandbox", "--json", "exec-tool", name, "--connector", connector, "--user", "ada")
    return run(*args, *(p for param in params for p in ("-p", param)))["data"]


def _proxy(run, connector: str, *args: str) -> dict:
    return run("--sandbox", "--json", "request", connector, *args, "--user", "ada")["body"]


def _answers(run) -> dict:
    """What the tools and the proxy serve of each app for `ada`."""
    unread = run("--sandbox", "--json", "gmail", "unread", "--user", "ada")
    return {
        "unread": [(m["from"], m["subject"]) for m in unread],
        "mails": _tool(run, "gmail_fetch_mails", "gmail", "max_results=10"),
        "listed": _proxy(run, "gmail", "/gmail/v1/users/me/messages"),
        "events": _tool(run, "googlecalendar_list_events", "googlecalendar", f"time_min={LATER}"),
        "proxied_events": _proxy(run, "googlecalendar", EVENTS, "-q", f"timeMin={LATER}"),
        "history": _tool(run, "slack_fetch_conversation_history", "slack", "channel=launch"),
        "channels": _proxy(run, "slack", "/api/conversations.list"),
        "pages": _tool(run, "notion_search_pages", "notion"),
        "proxied_pages": _proxy(run, "notion", "/v1/search", "-d", "{}"),
    }


def test_the_declared_app_data_is_served(run, tmp_path):
    seed = tmp_path / "seed.toml"
    seed.write_text(SEED, encoding="utf-8")
    run("sandbox", "seed", str(seed))
    answers = _answers(run)

    assert answers["unread"] == [("Bob <bob@example.com>", "Ship it")]
    mails = answers["mails"]["messages"]
    assert (mails[0]["id"], mails[0]["subject"]) == ("00000000000000a1", "Ship it")
    assert [m["subject"] for m in mails] == ["Ship it", "Old news"]
    assert "Release at noon." in json.dumps(mails[0])
    listed = [m["id"] for m in answers["listed"]["messages"]]
    assert listed[0] == "00000000000000a1" and len(listed) == 2
    one = _proxy(run, "gmail", "/gmail/v1/users/me/messages/00000000000000a1")
    assert one["labelIds"] == ["INBOX", "UNREAD"] and one["snippet"] == "Release at noon."

    events = answers["events"]["items"]
    assert [(e["summary"], e["start"]["dateTime"]) for e in events] == [
        ("Retro", "2030-01-01T15:00:00Z"),
        ("Board meeting", "2030-01-02T10:00:00Z"),
    ]
    assert events[1]["id"] == "board2030" and events[1]["location"] == "Room 1"
    assert answers["proxied_events"]["items"] == events

    assert [(m["text"], m["ts"]) for m in answers["history"]["messages"]] == [
        ("Go!", "1790000060.000100"),
        ("T minus one", "1790000000.000100"),
    ]
    assert answers["history"]["messages"][1]["user"] == "U0ADA"
    channels = answers["channels"]["channels"]
    assert [(c["name"], c["topic"]["value"]) for c in channels] == [
        ("launch", "Launch day"),
        ("quiet", ""),
    ]

    pages = answers["pages"]["results"]
    titles = [p["properties"]["title"]["title"][0]["plain_text"] for p in pages]
    assert titles == ["Runbook", "Ideas"]
    assert pages[0]["id"] == "6f1c2a7e-2b1d-4c1e-9a5e-0d3c1e2f4a5b"
    assert pages[0]["last_edited_time"] == "2026-11-20T08:00:00.000Z"
    assert answers["proxied_pages"]["results"] == pages


def test_without_app_data_the_generated_data_stays(run, tmp_path):
    seed = tmp_path / "seed.toml"
    seed.write_text(
        'version = 1\n[[accounts]]\nconnection = "slack"\nidentifier = "ada"\nstatus = "ACTIVE"\n',
        encoding="utf-8",
    )
    run("sandbox", "seed", str(seed))
    channels = _proxy(run, "slack", "/api/conversations.list")["channels"]
    assert [c["name"] for c in channels] == ["general", "random", "engineering", "support"]


def _account(connection: str, app_data: str) -> str:
    return (
        f'version = 1\n[[accounts]]\nconnection = "{connection}"\nidentifier = "u"\n'
        f'status = "ACTIVE"\napp_data = {app_data}\n'
    )


BAD = [
    (
        _account("github", "{ pages = [] }"),
        "seed.toml: accounts[0].app_data: the connection is backed by the github app",
    ),
    (
        'version = 1\n[[connections]]\nname = "x"\nprovider = "X"\nauthorization_type = "OAUTH"\n'
        + _account("x", "{ pages = [] }").removeprefix("version = 1\n"),
        "seed.toml: accounts[0].app_data: the connection is backed by no app",
    ),
    (
        _account("gmail", "{ events = [] }"),
        "seed.toml: accounts[0].app_data.events: unknown key (known: messages)",
    ),
    (
        _account("gmail", '{ messages = [{ from = "a", subject = "s", date = "yesterday" }] }'),
        "seed.toml: accounts[0].app_data.messages[0].date: must be an RFC 3339 time",
    ),
    (
        _account("gmail", '{ messages = [{ from = "a", subject = "s" }] }'),
        "seed.toml: accounts[0].app_data.messages[0].date: is required",
    ),
    (
        _account(
            "googlecalendar",
            '{ events = [{ summary = "s", start = "2030-01-01T10:00:00Z", '
            'end = "2030-01-01T09:00:00Z" }] }',
        ),
        "seed.toml: accounts[0].app_data.events[0].end: must be after start",
    ),
    (
        _account("googlecalendar", '{ events = [{ summary = 3, start = "x", end = "y" }] }'),
        "seed.toml: accounts[0].app_data.events[0].summary: must be a string, not a number",
    ),
    (
        _account("slack", '{ channels = [{ name = "Big Room" }] }'),
        'seed.toml: accounts[0].app_data.channels[0].name: "Big Room" is not a channel name',
    ),
    (
        _account(
            "slack", '{ channels = [{ name = "a", messages = [{ text = "t", colour = 1 }] }] }'
        ),
        "seed.toml: accounts[0].app_data.channels[0].messages[0].colour: unknown key",
    ),
    (
        _account("notion", '{ pages = [{ title = "t", id = "nope" }] }'),
        'seed.toml: accounts[0].app_data.pages[0].id: "nope" is not a UUID',
    ),
    (
        _account("notion", '{ pages = "Runbook" }'),
        "seed.toml: accounts[0].app_data.pages: must be an array of tables",
    ),
]


@pytest.mark.parametrize(("text", "problem"), BAD, ids=[p for _, p in BAD])
def test_bad_app_data_is_refused_whole(run, sk_process, tmp_path, text, problem):
    good = tmp_path / "good.toml"
    good.write_text(SEED, encoding="utf-8")
    run("sandbox", "seed", str(good))
    before = sk_process("sandbox", "export", "--json").stdout
    path = tmp_path / "seed.toml"
    path.write_text(text, encoding="utf-8")
    result = sk_process("sandbox", "seed", str(path))
    assert result.exit_code == 2 and result.stdout == ""
    assert any(line.startswith(f"sk: {problem}") for line in result.stderr.splitlines()), (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert sk_process("sandbox", "export", "--json").stdout == before


def test_export_then_seed_keeps_the_app_data(run, tmp_path):
    seed = tmp_path / "seed.toml"
    seed.write_text(SEED, encoding="utf-8")
    run("sandbox", "seed", str(seed))
    before = _answers(run)

    exported = tmp_path / "exported.toml"
    run("sandbox", "export", "-o", str(exported))
    document = tomllib.loads(exported.read_text(encoding="utf-8"))
    (slack,) = [a for a in document["accounts"] if a["connection"] == "slack"]
    assert [c["name"] for c in slack["app_data"]["channels"]] == ["launch", "quiet"]

    run("sandbox", "reset", "--yes")
    assert run("--sandbox", "--json", "accounts", "list") == []
    run("sandbox", "seed", str(exported))
    assert _declared(_answers(run)) == _declared(before)


def _declared(answers: dict) -> dict:
    """The declared part of the answers (the accounts' creation times, which the generated
    ids and `created` stamps follow, are new on every seeding)."""
    return {
        "unread": answers["unread"],
        "mails": [(m["id"], m["subject"]) for m in answers["mails"]["messages"]],
        "listed": answers["listed"]["messages"],
        "events": [
            (e["id"], e["summary"], e["start"], e["end"], e.get("location"))
            for e in answers["events"]["items"]
        ],
        "history": [(m["text"], m["ts"], m["user"]) for m in answers["history"]["messages"]],
        "channels": [(c["name"], c["topic"]["value"]) for c in answers["channels"]["channels"]],
        "pages": [(p["id"], p["last_edited_time"]) for p in answers["pages"]["results"]],
    }
