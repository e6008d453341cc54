"""`sk gmail unread`: one list call, every message's metadata in one batch request (Gmail's
batch endpoint), newest first; a Gmail 401 gets one fresh token and one retry."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.cli.conftest import assert_no_leak, assert_one_error_line


def _gmail_requests(sandbox) -> list[dict]:
    return [r for r in sandbox.requests() if r["path"].startswith(("/gmail/", "/batch/gmail/"))]


def _batched_reads(request: dict) -> list[str]:
    """The calls inside one batch request, as `GET path?query` lines."""
    return re.findall(r"^GET (/gmail/v1/\S+)", request["body"], re.MULTILINE)


def test_unread_json_newest_first(sk, driver, sandbox):
    tokens = driver.connect("gmail", "u")["authorization_details"]["oauth_token"]
    sandbox.clear_requests()
    result = sk("gmail", "unread", "--user", "u", "--limit", "5", "--json")
    assert result.exit_code == 0, result.stderr
    messages = json.loads(result.stdout)
    assert len(messages) == 5
    assert all(
        set(m) == {"id", "thread_id", "from", "subject", "date", "snippet"} for m in messages
    )
    assert all(m["from"] and m["subject"] and m["date"] for m in messages)
    requests = _gmail_requests(sandbox)
    # One list, then one batch request holding the five metadata reads.
    assert [(r["method"], r["path"]) for r in requests] == [
        ("GET", "/gmail/v1/users/me/messages"),
        ("POST", "/batch/gmail/v1"),
    ]
    reads = _batched_reads(requests[1])
    assert len(reads) == 5 and all("format=metadata" in read for read in reads)
    assert requests[1]["headers"]["content-type"].startswith("multipart/mixed; boundary=")
    # The same five the API lists for is:unread, newest first.
    listed = driver.api_gmail(
        tokens["access_token"], "/messages", params={"q": "is:unread", "maxResults": 5}
    )
    assert [m["id"] for m in messages] == [m["id"] for m in listed["messages"]]
    assert_no_leak(result, tokens["access_token"])


def test_unread_reads_every_message_in_one_round_trip(sk, driver, sandbox):
    tokens = driver.connect("gmail", "u")["authorization_details"]["oauth_token"]
    sandbox.fault(path="/batch/gmail/*", kind="latency", latency_ms=300)
    sandbox.clear_requests()
    started = time.monotonic()
    result = sk("gmail", "unread", "--user", "u", "--limit", "8", "--query", "in:inbox", "--json")
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.stderr
    messages = json.loads(result.stdout)
    # One after another would take 8 × 300 ms; one batch answer takes one.
    assert elapsed < 8 * 0.3 * 0.6, elapsed
    (batch,) = [r for r in _gmail_requests(sandbox) if r["path"] == "/batch/gmail/v1"]
    listed = driver.api_gmail(
        tokens["access_token"], "/messages", params={"q": "in:inbox", "maxResults": 8}
    )
    ids = [m["id"] for m in listed["messages"]]
    assert [read.split("?")[0].rsplit("/", 1)[1] for read in _batched_reads(batch)] == ids
    assert sorted(m["id"] for m in messages) == sorted(ids)


def test_table_on_a_pipe_and_query(sk, driver):
    driver.connect("gmail", "u")
    result = sk("gmail", "unread", "--user", "u", "--limit", "3")
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "From\tSubject\tDate\tSnippet" and len(lines) == 4
    none = sk(
        "gmail", "unread", "--user", "u", "--query", "subject:no-such-subject-anywhere", "--json"
    )
    assert none.exit_code == 0 and json.loads(none.stdout) == []


@pytest.mark.parametrize("refused", ["/gmail/v1/users/me/messages", "/batch/gmail/v1"])
def test_gmail_401_gets_a_fresh_token_and_one_retry(sk, driver, sandbox, refused):
    driver.connect("gmail", "u")
    sandbox.fault(path=refused, kind="status", status=401, times=1)
    sandbox.clear_requests()
    result = sk("gmail", "unread", "--user", "u", "--json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 5
    auth_reads = [r for r in sandbox.requests() if r["path"].endswith("/auth")]
    assert len(auth_reads) == 2


def test_gmail_401_twice_suggests_reconnect(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.admin(
        "POST",
        "/_sandbox/accounts/revoke",
        json={"connector": "gmail", "identifier": "u", "rotate": False},
    )
    result = sk("gmail", "unread", "--user", "u")
    assert result.exit_code == 1
    line = assert_one_error_line(result)
    assert "sk connect gmail --user u" in line


def test_not_connected_and_bad_limit(sk, sandbox):
    assert sk("gmail", "unread", "--user", "ghost").exit_code == 3
    sandbox.clear_requests()
    for limit in ("0", "501", "x"):
        result = sk("gmail", "unread", "--user", "u", "--limit", limit)
        assert result.exit_code == 2
        assert_one_error_line(result)
    assert sandbox.requests() == []
