"""`sk gmail unread`: one list call, concurrent metadata reads, newest first; a Gmail 401 gets
one fresh token and one retry."""

from __future__ import annotations

import json
import time

from tests.cli.conftest import assert_no_leak, assert_one_error_line


def _gmail_requests(sandbox) -> list[dict]:
    return [r for r in sandbox.requests() if r["path"].startswith("/gmail/")]


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
    assert len([r for r in requests if r["path"].endswith("/messages")]) == 1
    assert len(requests) == 6  # one list + five metadata reads
    assert all("format=metadata" in r["query"] for r in requests[1:])
    # The same five the API lists for is:unread, newest first.
    listed = driver.api_gmail(
        tokens["access_token"], "/messages", params={"q": "is:unread", "maxResults": 5}
    )
    assert [m["id"] for m in messages] == [m["id"] for m in listed["messages"]]
    assert_no_leak(result, tokens["access_token"])


def test_unread_reads_concurrently(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.fault(path="/gmail/v1/users/me/messages/*", kind="latency", latency_ms=300)
    started = time.monotonic()
    result = sk("gmail", "unread", "--user", "u", "--limit", "8", "--json")
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 8
    # One after another would take 8 × 300 ms; concurrent reads overlap.
    assert elapsed < 8 * 0.3 * 0.6, elapsed


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


def test_gmail_401_gets_a_fresh_token_and_one_retry(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.fault(path="/gmail/v1/users/me/messages", kind="status", status=401, times=1)
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
