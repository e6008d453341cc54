"""`sk exec-tool --dry-run`: the account is read and the params checked, the request is
printed, and nothing reaches execute_tool."""

from __future__ import annotations

import json

from tests.cli.conftest import assert_no_leak, assert_one_error_line

EXECUTE = "/api/v1/execute_tool"
API_KEY = "exa-dry-canary-5a8e2c7d1f90"
PARAM_SECRET = "dry-param-canary-7c3b9e1a"


def _executions(sandbox) -> list[dict]:
    return [r for r in sandbox.requests() if r["path"] == EXECUTE]


def test_prints_the_request_and_sends_nothing(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    result = sk(
        "exec-tool", "gmail_fetch_mails", "--user", "u", "-p", "max_results=3", "--dry-run",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    first, *rest = result.stdout.splitlines()
    assert first == f"POST {sandbox.url}{EXECUTE}"
    assert json.loads("\n".join(rest)) == {
        "tool_name": "gmail_fetch_mails",
        "params": {"max_results": 3},
        "connector": "gmail",
        "identifier": "u",
    }
    assert "dry run" in result.stderr and "not sent" in result.stderr
    paths = [r["path"] for r in sandbox.requests()]
    assert "/api/v1/connected_accounts/details" in paths  # the account was read
    assert "/api/v1/tools" in paths  # and the params checked against the schema
    assert _executions(sandbox) == []


def test_json_shape_with_an_account_id_and_secrets_redacted(sk, driver, sandbox):
    stored = driver.api(
        "POST",
        "/api/v1/connected_accounts",
        json={
            "connector": "exa",
            "identifier": "u",
            "connected_account": {
                "authorization_details": {"static_auth": {"details": {"api_key": API_KEY}}}
            },
        },
    ).json()["connected_account"]
    sandbox.clear_requests()
    result = sk(
        "exec-tool", "exa_search", "--account-id", stored["id"], "--no-check", "--json",
        "--dry-run", "-d", json.dumps({"query": "news", "token": PARAM_SECRET}), "-v",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["method"] == "POST" and document["url"] == f"{sandbox.url}{EXECUTE}"
    body = document["body"]
    assert body["tool_name"] == "exa_search"
    assert body["connected_account_id"] == stored["id"]
    assert body["params"]["query"] == "news"
    assert body["params"]["token"] != PARAM_SECRET  # a secret-named param is redacted
    assert_no_leak(result, PARAM_SECRET, API_KEY)
    assert _executions(sandbox) == []


def test_params_that_break_the_schema_are_exit_2(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    result = sk(
        "exec-tool", "gmail_fetch_mails", "--user", "u", "-p", "max_results=many", "--dry-run",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "max_results" in assert_one_error_line(result)
    assert result.stdout == ""
    assert _executions(sandbox) == []


def test_a_missing_or_inactive_account_is_exit_3(sk, driver, sandbox):
    sandbox.clear_requests()
    result = sk("exec-tool", "gmail_fetch_mails", "--user", "nobody", "--dry-run")
    assert result.exit_code == 3
    assert "sk connect gmail --user nobody" in assert_one_error_line(result)
    driver.connect("gmail", "u")
    driver.force("gmail", "u", "EXPIRED")
    result = sk("exec-tool", "gmail_fetch_mails", "--user", "u", "--dry-run")
    assert result.exit_code == 3
    assert "is EXPIRED" in assert_one_error_line(result)
    result = sk("exec-tool", "gmail_fetch_mails", "--account-id", "ca_404", "--dry-run")
    assert result.exit_code == 3
    assert "no connected account with id 'ca_404'" in assert_one_error_line(result)
    assert result.stdout == ""
    assert _executions(sandbox) == []
