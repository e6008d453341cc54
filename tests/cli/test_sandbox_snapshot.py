"""`sk sandbox snapshot`: one sandbox is the source environment; the seed file written from it
holds its connections, accounts (every page) and tools, no credential of it, and stays valid
whatever strings the source sends. Only read requests reach the source."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import tomllib
import unicodedata
from math import inf as INF
from math import nan as NAN
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from scalekit_cli.sandbox.faults import HOSTILE_TEXT
from scalekit_cli.sandbox.seed import load_seed
from scalekit_cli.sandbox.settings import default_connections
from tests.cli.conftest import SK, assert_no_leak, assert_one_error_line, read_terminal
from tests.conftest import CANARY_CLIENT_ID, CANARY_CLIENT_SECRET

ACCOUNTS = "/api/v1/connected_accounts"
APP_CONNECTIONS = "/api/v1/connections/app"
TOOLS = "/api/v1/tools"
CANARY_ACCESS = "CANARYat-Vb81QmXz4Rk2Pw7Jh5"
CANARY_REFRESH = "CANARYrt-Ty63LnGd9Sa1Ke8Uf4"
CANARY_API_KEY = "CANARYak-Mc47WpZr2Hx9Nq3Eb6"
MANY = 120  # more accounts than one page (the list's page_size is < 100)
GMAIL_SCOPE = "https://www.googleapis.com/auth/gmail.readonly"
DOCS_SCHEMA = {
    "type": "object",
    "properties": {"query": {"type": "string", "minLength": 1}, "limit": {"type": "integer"}},
    "required": ["query"],
}
EXPECTED_CONNECTIONS = [
    {"name": "GMAIL", "provider": "GOOGLE", "authorization_type": "OAUTH", "app": "gmail"},
    {"name": "gmail-prod", "provider": "GOOGLE", "authorization_type": "OAUTH", "app": "gmail"},
    {
        "name": "google_calendar",
        "provider": "GOOGLE",
        "authorization_type": "OAUTH",
        "app": "googlecalendar",
    },
    {"name": "freshdesk-8", "provider": "FRESHDESK", "authorization_type": "API_KEY"},
    {"name": "myapp", "provider": "MYAPP", "authorization_type": "OAUTH"},
]
ACCOUNT_KEYS = {"connection", "identifier", "status", "id", "expires_at"}


def _tool(name: str, connector: str, description: str, schema: dict):
    from scalekit_cli.sandbox.tools import ToolSpec

    return ToolSpec(name, connector, description, schema, "docs", ("docs",), run=lambda c, p: {})


@pytest.fixture
def sandbox(sandbox_factory):
    """The source: connections named as a dashboard names them, a custom connector's tools,
    and one of the sandbox's own Gmail tools on an app-backed connection."""
    from scalekit_cli.sandbox import Connection

    live = sandbox_factory(
        connections=[
            Connection("GMAIL", "GOOGLE", "OAUTH", [GMAIL_SCOPE], app="gmail"),
            Connection("gmail-prod", "GOOGLE", "OAUTH", [GMAIL_SCOPE]),
            Connection("google_calendar", "GOOGLE", "OAUTH", []),
            Connection("freshdesk-8", "FRESHDESK", "API_KEY", []),
            Connection("myapp", "MYAPP", "OAUTH", []),
        ]
    )
    live.engine.tools.extend(
        [
            _tool("c-myapp_fetch-docs", "myapp", "Fetch documents from MyApp", DOCS_SCHEMA),
            _tool("c-myapp_list-teams", "myapp", "List teams", {"type": "object"}),
            _tool("gmail_prod_fetch", "gmail-prod", "Emulated app's own", {"type": "object"}),
        ]
    )
    return live


@pytest.fixture
def source(sandbox, driver) -> list[tuple[str, str, str, str]]:
    """Accounts in every status, OAuth tokens and an API key that are canaries, and MANY
    more: the (connection, identifier, status, id) of each, as the source lists them."""
    oauth = {"access_token": CANARY_ACCESS, "refresh_token": CANARY_REFRESH, "scopes": []}
    created = [
        ("GMAIL", "default", {"authorization_details": {"oauth_token": oauth}}),
        ("freshdesk-8", "user_42", {"authorization_details": {"static_auth": {"details": {}}}}),
        *(("myapp", f"user_{index:03d}", {}) for index in range(MANY)),
    ]
    created[1][2]["authorization_details"]["static_auth"]["details"]["api_key"] = CANARY_API_KEY
    for connector, identifier, fields in created:
        answer = driver.api(
            "POST",
            ACCOUNTS,
            json={"connector": connector, "identifier": identifier, "connected_account": fields},
        )
        assert answer.is_success, answer.text
    for identifier, status in (
        ("user_001", "ACTIVE"),
        ("user_002", "EXPIRED"),
        ("user_003", "DISCONNECTED"),
        ("user_004", "PENDING_VERIFICATION"),
    ):
        sandbox.admin(
            "POST",
            "/_sandbox/accounts/status",
            json={"connector": "myapp", "identifier": identifier, "status": status},
        )
    listed, token = [], ""
    while True:
        params = {"page_size": "50", **({"page_token": token} if token else {})}
        page = driver.api("GET", ACCOUNTS, params=params).json()
        listed += page["connected_accounts"]
        token = page.get("next_page_token", "")
        if not token:
            break
    sandbox.clear_requests()
    return sorted((a["connector"], a["identifier"], a["status"], a["id"]) for a in listed)


def _machine_token(sk_env: dict[str, str]) -> str:
    (cache_file,) = (Path(sk_env["SK_CACHE_DIR"]) / "tokens").glob("*.json")
    return json.loads(cache_file.read_text())["access_token"]


def _accounts(document: dict) -> list[tuple[str, str, str, str]]:
    return sorted(
        (a["connection"], a["identifier"], a["status"], a["id"]) for a in document["accounts"]
    )


def test_the_seed_file_holds_the_environment_and_no_credential(
    sk, sandbox, source, sk_env, tmp_path
):
    path = tmp_path / "seed.toml"
    result = sk("sandbox", "snapshot", "-o", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert f"wrote {path}: 5 connections, {MANY + 2} accounts, 2 tools" in result.stderr
    text = path.read_text(encoding="utf-8")
    document = tomllib.loads(text)

    assert set(document) == {"version", "environment", "connections", "accounts", "tools"}
    assert document["version"] == 1
    assert document["environment"] == {"client_id": CANARY_CLIENT_ID}
    assert document["connections"] == EXPECTED_CONNECTIONS
    assert _accounts(document) == source
    assert {a["status"] for a in document["accounts"]} == {
        "ACTIVE",
        "EXPIRED",
        "DISCONNECTED",
        "PENDING_VERIFICATION",
        "PENDING_AUTH",
    }
    assert all(set(a) <= ACCOUNT_KEYS for a in document["accounts"])
    (gmail,) = [a for a in document["accounts"] if a["connection"] == "GMAIL"]
    assert gmail["expires_at"]  # an OAuth account's token expiry, not its token
    # The custom connector's tools with their schemas; the Gmail app brings its own.
    assert document["tools"] == [
        {
            "connection": "myapp",
            "name": "c-myapp_fetch-docs",
            "description": "Fetch documents from MyApp",
            "input_schema": DOCS_SCHEMA,
        },
        {
            "connection": "myapp",
            "name": "c-myapp_list-teams",
            "description": "List teams",
            "input_schema": {"type": "object"},
        },
    ]

    canaries = (
        CANARY_CLIENT_SECRET,
        CANARY_ACCESS,
        CANARY_REFRESH,
        CANARY_API_KEY,
        _machine_token(sk_env),
    )
    assert_no_leak(result, *canaries)
    assert_no_leak(text, *canaries)

    requests = sandbox.requests()
    assert {(r["method"], r["path"]) for r in requests} == {
        ("POST", "/oauth/token"),
        ("GET", APP_CONNECTIONS),
        ("GET", ACCOUNTS),
        ("GET", TOOLS),
    }
    pages = [dict(parse_qsl(r["query"])) for r in requests if r["path"] == ACCOUNTS]
    assert len(pages) == 2 and "page_token" not in pages[0] and pages[1]["page_token"]
    # Tools are asked for per connection, and not for the app-backed ones.
    asked = {
        dict(parse_qsl(r["query"]))["filter.connector"] for r in requests if r["path"] == TOOLS
    }
    assert asked == {"freshdesk-8", "myapp"}


def test_json_on_stdout_is_the_same_document(sk, sk_process, source, tmp_path):
    path = tmp_path / "seed.toml"
    assert sk("sandbox", "snapshot", "-o", str(path)).exit_code == 0
    as_toml = tomllib.loads(path.read_text(encoding="utf-8"))
    # The installed console script, writing to a pipe.
    result = sk_process("sandbox", "snapshot", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == as_toml
    assert f"snapshot: 5 connections, {MANY + 2} accounts, 2 tools" in result.stderr
    named_json = tmp_path / "seed.json"
    assert sk("sandbox", "snapshot", "-o", str(named_json)).exit_code == 0
    assert json.loads(named_json.read_text(encoding="utf-8")) == as_toml


def test_limit_caps_the_accounts_read_with_a_note(sk, sandbox, source):
    result = sk("sandbox", "snapshot", "--limit", "10")
    assert result.exit_code == 0, result.stderr
    document = tomllib.loads(result.stdout)
    assert len(document["accounts"]) == 10
    assert "accounts: stopped at --limit 10, more exist" in result.stderr
    pages = [r for r in sandbox.requests() if r["path"] == ACCOUNTS]
    assert len(pages) == 1  # the second page is never asked for


def test_hostile_strings_stay_valid_toml(sk, sandbox, source, tmp_path):
    payload = HOSTILE_TEXT + "\"\\'''\n[[accounts]]\nid = 1\x7f\x00\u2028\U0001f600"
    for path, keys in (
        (APP_CONNECTIONS, ["provider_key"]),
        (ACCOUNTS, ["identifier"]),
        (TOOLS, ["description"]),
    ):
        spec = {"kind": "mutate", "mutation": "strings", "keys": keys, "payload": payload}
        sandbox.fault(path=path, method="GET", **spec)
    sandbox.engine.tools.extend(
        [
            _tool("c-myapp_huge", "myapp", "x" * 50_000, {"type": "object"}),
            _tool("c-myapp_deep", "myapp", "deep", _nested(20)),
            _tool("c-myapp_odd" + HOSTILE_TEXT, "myapp", "odd name", {"type": "object"}),
        ]
    )
    path = tmp_path / "seed.toml"
    result = sk("sandbox", "snapshot", "-o", str(path))
    assert result.exit_code == 0, result.stderr
    text = path.read_text(encoding="utf-8")
    # No raw control, format or separator character: each is an escape in a basic string.
    assert all(
        unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp") for char in text if char != "\n"
    )
    document = tomllib.loads(text)
    assert set(document) == {"version", "environment", "connections", "accounts", "tools"}
    assert {c["provider"] for c in document["connections"]} == {
        provider + payload for provider in ("GOOGLE", "FRESHDESK", "MYAPP")
    }
    assert _accounts(document) == sorted((c, i + payload, s, a) for c, i, s, a in source)
    tools = {tool["name"]: tool for tool in document["tools"]}
    assert tools["c-myapp_fetch-docs"]["description"] == ("Fetch documents from MyApp" + payload)
    assert len(tools["c-myapp_huge"]["description"]) == 8192
    assert "c-myapp_deep" not in tools
    # A name the seed format refuses would make `serve --seed` refuse the whole file.
    assert not any(name.startswith("c-myapp_odd") for name in tools)
    assert "tool left out: not a tool name (letters, digits, _ . -)" in result.stderr
    assert "tool left out: an input schema nested deeper than 32" in result.stderr
    assert "tool description cut at 8192 characters" in result.stderr
    assert "\x1b" not in result.stderr
    assert load_seed(path, default_connections())


def _nested(depth: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


def test_an_output_that_is_a_folder_is_refused_before_any_request(sk, sandbox, tmp_path):
    sandbox.clear_requests()
    result = sk("sandbox", "snapshot", "-o", str(tmp_path))
    assert result.exit_code == 2
    assert "is a directory" in assert_one_error_line(result)
    assert sandbox.requests() == []


def test_progress_on_a_terminal(sk_env, sandbox, source, tmp_path):
    # Slow pages, so that the spinner is drawn while they are read.
    sandbox.fault(path=ACCOUNTS, method="GET", kind="latency", latency_ms=400, times=None)
    leader, follower = pty.openpty()
    env = {**os.environ, **sk_env, "TERM": "xterm-256color", "COLUMNS": "200"}
    path = tmp_path / "seed.toml"
    process = subprocess.Popen(
        [str(SK), "sandbox", "snapshot", "-o", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=tmp_path,
    )
    os.close(follower)
    screen = read_terminal(leader, finished=lambda: process.poll() is not None).decode()
    process.wait(timeout=10)
    os.close(leader)
    assert process.returncode == 0, screen
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    assert "reading the accounts" in plain
    assert any(frame in plain for frame in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"), "a spinner frame"
    assert len(tomllib.loads(path.read_text(encoding="utf-8"))["accounts"]) == MANY + 2


def test_a_second_sandbox_seeded_from_the_snapshot_answers_alike(sk, sandbox, source, tmp_path):
    """The round trip the command is for: a second sandbox served from the snapshot
    (`sk sandbox serve --seed`), asked through `sk` and the official Python SDK, holds the
    source's connections, accounts and custom tools — and credentials of its own."""
    from tests.grpc.served import sdk_client, served_with_trust

    path = tmp_path / "seed.toml"
    result = sk("sandbox", "snapshot", "-o", str(path))
    assert result.exit_code == 0, result.stderr

    def answers(env: dict[str, str] | None = None) -> tuple:
        def listed(*args: str) -> list[dict]:
            done = sk("--json", *args, env=env)
            assert done.exit_code == 0, (args, done.stderr)
            return json.loads(done.stdout)

        connections = listed("connections", "list")
        accounts = listed("accounts", "list", "--all")
        tools = listed("tools", "list", "--connector", "myapp")
        return (
            [(c["name"], c["provider"], c["authorization_type"]) for c in connections],
            sorted((a["connector"], a["identifier"], a["status"], a["id"]) for a in accounts),
            [(t["name"], t["input_schema"]) for t in tools],
        )

    expected = answers()
    assert len(expected[1]) == MANY + 2 and len(expected[2]) == 2
    canaries = (CANARY_ACCESS, CANARY_REFRESH, CANARY_API_KEY)
    with served_with_trust(tmp_path / "second", "--seed", str(path), canaries=canaries) as second:
        assert answers(dict(second.exports)) == expected
        # The app the snapshot named behind GMAIL serves its tools there.
        gmail_tools = sk("--json", "tools", "list", "--connector", "GMAIL", env=second.exports)
        assert "gmail_fetch_mails" in {tool["name"] for tool in json.loads(gmail_tools.stdout)}

        actions = sdk_client(second).actions
        gmail = actions.get_connected_account(connection_name="GMAIL", identifier="default")
        account = gmail.connected_account
        source_gmail = next(entry for entry in source if entry[:2] == ("GMAIL", "default"))
        assert (account.id, account.status) == (source_gmail[3], source_gmail[2])
        # The second sandbox made its own token: none of the source's credentials moved.
        token = account.authorization_details["oauth_token"]["access_token"]
        assert token and token not in canaries
        by_id = actions.get_connected_account(connected_account_id=source_gmail[3])
        assert by_id.connected_account.identifier == "default"
        (freshdesk,) = actions.list_connected_accounts(identifier="user_42").connected_accounts
        expected_freshdesk = next(entry for entry in source if entry[0] == "freshdesk-8")
        assert (freshdesk.connector, freshdesk.status) == ("freshdesk-8", expected_freshdesk[2])


def test_a_schema_number_json_cannot_write_leaves_the_tool_out(sk, sandbox, source, tmp_path):
    """NaN and Infinity are not JSON (Python's parser takes them): a tool whose schema holds
    one is left out with a note, so `--json` stays JSON a strict parser reads, and the TOML
    seed holds no `nan` that the sandbox serving it could never answer."""
    tools = {
        "tools": [
            {"definition": {"name": name, "description": "d", "input_schema": schema}}
            for name, schema in (
                ("c-myapp_nan", {"type": "object", "properties": {"n": {"maximum": NAN}}}),
                ("c-myapp_inf", {"type": "object", "properties": {"n": {"minimum": -INF}}}),
                ("c-myapp_fine", {"type": "object", "properties": {"n": {"maximum": 1e308}}}),
            )
        ],
        "next_page_token": "",
    }
    spec = {"path": TOOLS, "method": "GET", "kind": "mutate", "mutation": "replace"}
    sandbox.admin(
        "POST",
        "/_sandbox/faults",
        content=json.dumps({**spec, "body": tools, "times": None}),
        headers={"content-type": "application/json"},
    )
    path = tmp_path / "seed.json"
    result = sk("sandbox", "snapshot", "-o", str(path))
    assert result.exit_code == 0, result.stderr
    text = path.read_text(encoding="utf-8")

    def strict(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    document = json.loads(text, parse_constant=strict)
    assert [tool["name"] for tool in document["tools"]] == ["c-myapp_fine"]
    # Both connections without an emulated app (myapp, freshdesk-8) get this answer.
    assert "4 × tool left out: a number in its input schema that JSON cannot hold" in (
        result.stderr
    )
    as_toml = sk("sandbox", "snapshot")
    assert as_toml.exit_code == 0, as_toml.stderr
    assert [tool["name"] for tool in tomllib.loads(as_toml.stdout)["tools"]] == ["c-myapp_fine"]


def test_a_listing_that_repeats_an_account_still_makes_a_loadable_seed(
    sk, sandbox, source, driver, tmp_path
):
    """Pages that overlap (an account listed twice, as offset paging does while accounts
    change), an expiry that is no RFC 3339 time and an id the contract refuses: the snapshot
    keeps each account once and drops what the seed loader would refuse, with notes, so
    `serve --seed` loads the file it wrote."""
    page = driver.api("GET", ACCOUNTS, params={"page_size": "5"}).json()
    first, second, third, *rest = page["connected_accounts"]
    odd = {**second, "token_expires_at": "yesterday"}
    long_id = {**third, "id": "ca_" + "9" * 40}  # over the contract's 32 characters
    body = {"connected_accounts": [first, odd, first, long_id, *rest], "next_page_token": ""}
    sandbox.fault(path=ACCOUNTS, method="GET", kind="mutate", mutation="replace", body=body)
    path = tmp_path / "seed.toml"
    result = sk("sandbox", "snapshot", "-o", str(path))
    assert result.exit_code == 0, result.stderr
    assert load_seed(path, default_connections())
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    assert [a["id"] for a in document["accounts"]] == [a["id"] for a in [first, odd, *rest]]
    assert "expires_at" not in document["accounts"][1]
    assert "account left out: listed twice" in result.stderr
    assert "account left out: an identifier or id the contract's rules refuse" in result.stderr
    assert "account expiry left out: not an RFC 3339 time with a zone" in result.stderr
