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
