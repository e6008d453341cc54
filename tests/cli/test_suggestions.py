"""A connector the environment does not have is wrong input: exit 2 with the names it does
have that come closest, never a hint to run the command that just failed."""

from __future__ import annotations

import pytest

from tests.cli.conftest import assert_one_error_line

DID_YOU_MEAN = "this environment has no connection named 'gmial'; did you mean 'gmail'?"


def test_connect_with_a_mistyped_connector_suggests_the_known_one(sk, sandbox):
    result = sk("connect", "gmial", "--user", "me", "--no-wait")
    assert result.exit_code == 2
    line = assert_one_error_line(result)
    assert line == f"sk: {DID_YOU_MEAN}"
    # The environment's own answer decided: creating the account was 404 CONNECTION_NOT_FOUND.
    creates = [
        r for r in sandbox.requests() if r["method"] == "POST" and r["path"].endswith("accounts")
    ]
    assert len(creates) == 1


@pytest.mark.parametrize("command", ["status", "token"])
def test_status_and_token_suggest_instead_of_the_failing_connect(sk, command):
    result = sk(command, "gmial", "--user", "me")
    assert result.exit_code == 2
    line = assert_one_error_line(result)
    assert line == f"sk: {DID_YOU_MEAN}"
    assert "sk connect" not in result.stderr


def test_the_users_own_accounts_are_candidates_too(sk, driver, sandbox):
    # A connector with no tools in the catalogue is still known once the user has an account.
    driver.connect("notion", "me")
    assert not [t for t in sandbox.requests() if "notion_" in t["query"]]
    result = sk("status", "notoin", "--user", "me")
    assert result.exit_code == 2
    assert "did you mean 'notion'?" in assert_one_error_line(result)


def test_an_unknown_connector_with_nothing_close_lists_what_there_is(sk):
    result = sk("connect", "zzzz", "--user", "me", "--no-wait")
    assert result.exit_code == 2
    line = assert_one_error_line(result)
    assert "no connection named 'zzzz'; it has: " in line and "gmail" in line


def test_a_known_connector_without_an_account_still_says_connect(sk):
    result = sk("status", "gmail", "--user", "nobody")
    assert result.exit_code == 3
    assert "run: sk connect gmail --user nobody" in assert_one_error_line(result)


def test_the_installed_sk_token_fast_path_suggests_as_well(sk_process):
    result = sk_process("token", "gmial", "--user", "me")
    assert result.exit_code == 2
    assert assert_one_error_line(result) == f"sk: {DID_YOU_MEAN}"


def _tool_listings(sandbox) -> list[dict]:
    return [r for r in sandbox.requests() if r["path"] == "/api/v1/tools"]


def test_exec_tool_with_a_mistyped_connector_suggests_the_known_one(sk, driver, sandbox):
    driver.connect("gmail", "me")
    result = sk("exec-tool", "gmail_fetch_mails", "--user", "me", "--connector", "gmial")
    assert result.exit_code == 2
    assert assert_one_error_line(result) == f"sk: {DID_YOU_MEAN}"


def test_exec_tool_asks_for_known_names_only_when_it_fails(sk, driver, sandbox):
    driver.connect("gmail", "me")
    sandbox.clear_requests()
    ok = sk("exec-tool", "gmail_fetch_mails", "--user", "me", "--connector", "gmail", "--json")
    assert ok.exit_code == 0, ok.stderr
    assert len(_tool_listings(sandbox)) == 1  # the schema check's own lookup, nothing more


def test_tools_list_with_a_mistyped_connector_suggests_the_known_one(sk, sandbox):
    result = sk("tools", "list", "--connector", "gmial")
    assert result.exit_code == 2
    assert assert_one_error_line(result) == f"sk: {DID_YOU_MEAN}"
    assert result.stdout == ""


def test_tools_list_for_a_known_connector_asks_once(sk, sandbox):
    sandbox.clear_requests()
    result = sk("tools", "list", "--connector", "gmail", "--json")
    assert result.exit_code == 0 and "gmail_fetch_mails" in result.stdout
    assert len(_tool_listings(sandbox)) == 1


def test_tools_list_for_a_connection_without_tools_is_an_empty_answer(sk, sandbox):
    # Nothing close to it in the catalogue: a connection with no tools, not a typo.
    result = sk("tools", "list", "--connector", "zzzz")
    assert result.exit_code == 0
    assert result.stderr == "no tools match\n" and result.stdout == ""
