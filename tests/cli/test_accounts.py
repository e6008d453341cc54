"""`sk accounts list`: the first page by default, every page with --all, filters sent to the
server, and output that streams."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import httpx
import pytest

from tests.cli.conftest import assert_one_error_line
from tests.conftest import CANARY_CLIENT_ID, CANARY_CLIENT_SECRET, start_live_sandbox

ACCOUNTS = "/api/v1/connected_accounts"
HEADER = "Connector\tUser\tStatus\tType\tUpdated\tId"


@pytest.fixture(scope="module")
def crowded():
    """A sandbox with 150 connections, an account on each for "many", and two for "few";
    shared by this module's tests (each clears the request log first)."""
    from scalekit_cli.sandbox import Connection, SandboxSettings

    connections = [Connection(f"app{index:03d}", "TEST", "OAUTH", []) for index in range(150)]
    live = start_live_sandbox(
        SandboxSettings(
            client_id=CANARY_CLIENT_ID,
            client_secret=CANARY_CLIENT_SECRET,
            connections=connections,
        )
    )
    wanted = [(c.name, "many") for c in connections] + [("app000", "few"), ("app001", "few")]
    headers = {"authorization": f"Bearer {live.machine_token()}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=10) as client:
        for connector, identifier in wanted:
            answer = client.post(
                ACCOUNTS,
                json={"connector": connector, "identifier": identifier, "connected_account": {}},
            )
            answer.raise_for_status()
    yield live
    live.stop()


@pytest.fixture
def crowd(crowded):
    crowded.clear_requests()
    return crowded


def _pages(live) -> list[dict[str, str]]:
    return [dict(parse_qsl(r["query"])) for r in live.requests() if r["path"] == ACCOUNTS]


def test_without_all_only_the_first_page_and_a_hint(sk, crowd):
    result = sk("accounts", "list", env={"SCALEKIT_ENV_URL": crowd.url})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == HEADER
    assert len(lines) == 1 + 99  # the largest page the rule allows: page_size < 100
    assert all(len(line.split("\t")) == 6 for line in lines)
    assert "showing the first 99 of 152 accounts; pass --all" in result.stderr
    (page,) = _pages(crowd)
    assert page["page_size"] == "99"


def test_all_reads_every_page_as_a_json_array(sk, crowd):
    result = sk("accounts", "list", "--all", "--json", env={"SCALEKIT_ENV_URL": crowd.url})
    assert result.exit_code == 0, result.stderr
    documents = json.loads(result.stdout)
    assert len(documents) == 152
    assert sorted(d["connector"] for d in documents if d["identifier"] == "many") == [
        f"app{index:03d}" for index in range(150)
    ]
    assert set(documents[0]) >= {"connector", "identifier", "status", "id"}
    first, second = _pages(crowd)
    assert "page_token" not in first and second["page_token"]
    assert "pass --all" not in result.stderr


def test_all_in_a_pipe_streams_tab_separated_rows(sk, crowd):
    result = sk("accounts", "list", "--all", env={"SCALEKIT_ENV_URL": crowd.url})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines.count(HEADER) == 1 and lines[0] == HEADER
    assert len(lines) == 1 + 152


def test_filters_go_to_the_server(sk, crowd):
    env = {"SCALEKIT_ENV_URL": crowd.url}
    result = sk("accounts", "list", "--user", "few", "--json", env=env)
    assert result.exit_code == 0
    assert sorted(d["connector"] for d in json.loads(result.stdout)) == ["app000", "app001"]
    result = sk("accounts", "list", "--connector", "app001", "--json", env=env)
    assert sorted(d["identifier"] for d in json.loads(result.stdout)) == ["few", "many"]
    result = sk("accounts", "list", "--connector", "app001", "--user", "many", env=env)
    rows = [line.split("\t") for line in result.stdout.splitlines()[1:]]
    assert [(row[0], row[1], row[2]) for row in rows] == [("app001", "many", "PENDING_AUTH")]
    first, second, third = _pages(crowd)
    assert first["identifier"] == "few" and "connector" not in first
    assert second["connector"] == "app001" and "identifier" not in second
    assert third["connector"] == "app001" and third["identifier"] == "many"


def test_nothing_matching_is_not_an_error(sk, sandbox):
    result = sk("accounts", "list", "--user", "nobody")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no connected accounts match" in result.stderr
    as_json = sk("accounts", "list", "--user", "nobody", "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.stdout) == []


def test_an_identifier_is_sent_exactly(sk, driver, sandbox):
    identifier = "a+b@example.com & c/d?"
    driver.connect("gmail", identifier)
    result = sk("accounts", "list", "--user", identifier, "--json")
    (document,) = json.loads(result.stdout)
    assert document["identifier"] == identifier and document["status"] == "ACTIVE"


def test_bad_filters_are_exit_2_before_any_request(sk, sandbox):
    sandbox.clear_requests()
    for args in (("--user", ""), ("--connector", "no/slash")):
        result = sk("accounts", "list", *args)
        assert result.exit_code == 2
        assert_one_error_line(result)
    assert sandbox.requests() == []
