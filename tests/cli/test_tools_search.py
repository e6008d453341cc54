"""`sk tools search QUERY` on the service's ranked search (`POST /api/v1/tools:search`), with
each tool's readiness for `--user`; and `sk tools list --user`, the tools that user can run
now (`GET /api/v1/tools/scoped`)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

from tests.cli.conftest import assert_one_error_line
from tests.cli.test_tables import header_and_rows, on_a_terminal

SEARCH = "/api/v1/tools:search"
SCOPED = "/api/v1/tools/scoped"


def _calls(sandbox, path: str) -> list[dict]:
    return [r for r in sandbox.requests() if r["path"] == path]


def _names(stdout: str) -> list[str]:
    return [line.split("\t")[0] for line in stdout.splitlines()[1:]]


def test_search_ranks_on_the_service_tab_separated_in_a_pipe(sk, sandbox):
    sandbox.clear_requests()
    result = sk("tools", "search", "send a slack message")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Name\tProvider\tDescription"
    assert _names(result.stdout)[:2] == ["slack_send_message", "slack_fetch_conversation_history"]
    assert lines[1].split("\t")[1] == "SLACK"
    (call,) = _calls(sandbox, SEARCH)
    assert call["method"] == "POST"
    assert result.stderr == ""


def test_search_json_has_scores_best_first(sk, sandbox):
    result = sk("tools", "search", "fetch emails", "--json")
    assert result.exit_code == 0, result.stderr
    documents = json.loads(result.stdout)
    assert documents[0]["name"] == "gmail_fetch_mails"
    assert set(documents[0]) == {"name", "description", "provider", "score"}
    scores = [d["score"] for d in documents]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0


def test_search_with_a_user_shows_readiness(sk, driver, sandbox):
    driver.connect("slack", "user_123")
    driver.connect("gmail", "user_123")
    driver.force("gmail", "user_123", "EXPIRED")
    result = sk("tools", "search", "message mails", "--user", "user_123")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Name\tProvider\tDescription\tReady"
    ready = {line.split("\t")[0]: line.split("\t")[3] for line in lines[1:]}
    assert ready["slack_send_message"] == "connected"
    assert ready["gmail_fetch_mails"] == "needs reauth"
    assert ready["gmail_get_profile"] == "needs reauth"
    documents = json.loads(sk("tools", "search", "channels", "-u", "user_2", "--json").stdout)
    assert documents[0]["name"] == "slack_list_channels"
    assert (documents[0]["ready"], documents[0]["accounts"]) == ("needs connection", [])


def test_search_limit_and_connector(sk, sandbox):
    sandbox.clear_requests()
    result = sk("tools", "search", "list", "--limit", "1")
    assert result.exit_code == 0, result.stderr
    assert len(_names(result.stdout)) == 1
    (call,) = _calls(sandbox, SEARCH)
    assert json.loads(call["body"])["top_k"] == 1
    only = sk("tools", "search", "list events channels", "--connector", "slack")
    assert only.exit_code == 0, only.stderr
    assert _names(only.stdout) == ["slack_list_channels"]
    none = sk("tools", "search", "zzzqqq")
    assert (none.exit_code, none.stdout) == (0, "")
    assert "no tools match" in none.stderr


def test_search_draws_a_table_on_a_terminal(sk_env, tmp_path, driver):
    driver.connect("slack", "user_123")
    lines = on_a_terminal(
        sk_env, tmp_path, 120, "tools", "search", "slack message", "--user", "user_123"
    )
    header, rows = header_and_rows(lines, "Name")
    assert header == ["Name", "Provider", "Description", "Ready"]
    assert rows[0].split()[0] == "slack_send_message"
    assert rows[0].rstrip().endswith("connected")


def test_an_unknown_connector_is_exit_2_with_did_you_mean(sk, sandbox):
    sandbox.clear_requests()
    result = sk("tools", "search", "send", "--connector", "slak")
    assert result.exit_code == 2
    assert "did you mean 'slack'?" in assert_one_error_line(result)
    assert result.stdout == ""
    assert _calls(sandbox, SEARCH) == []


@pytest.mark.parametrize(
    "args",
    [["   "], ["x" * 257], ["send", "--limit", "0"], ["send", "--limit", "51"], ["a", "-u", ""]],
)
def test_bad_input_is_exit_2_before_any_request(sk, sandbox, args):
    sandbox.clear_requests()
    result = sk("tools", "search", *args)
    assert result.exit_code == 2
    assert_one_error_line(result)
    assert _calls(sandbox, SEARCH) == []


# -- sk tools list --user --------------------------------------------------------------------


def test_list_with_a_user_is_what_they_can_run_now(sk, driver, sandbox):
    driver.connect("gmail", "user_123")
    driver.link("slack", "user_123")  # not authorized yet: its tools are not runnable
    sandbox.clear_requests()
    result = sk("tools", "list", "--user", "user_123")
    assert result.exit_code == 0, result.stderr
    assert _names(result.stdout) == ["gmail_fetch_mails", "gmail_get_profile"]
    (call,) = _calls(sandbox, SCOPED)
    assert ("identifier", "user_123") in parse_qsl(call["query"])
    filtered = sk("tools", "list", "--user", "user_123", "-q", "profile", "--json")
    assert [d["name"] for d in json.loads(filtered.stdout)] == ["gmail_get_profile"]


def test_list_with_a_user_without_accounts_says_how_to_connect(sk, sandbox):
    result = sk("tools", "list", "--user", "nobody")
    assert (result.exit_code, result.stdout) == (0, "")
    assert "'nobody' can run no tool yet" in result.stderr
    assert "connections list --user nobody" in result.stderr


@pytest.mark.parametrize("status", [404, 501])
def test_an_environment_without_search_is_one_clear_line(sk, sandbox, status):
    sandbox.fault(path=SEARCH, kind="status", status=status)
    result = sk("tools", "search", "mail")
    assert result.exit_code == 1
    line = assert_one_error_line(result)
    assert "does not search tools" in line and "tools list --query" in line
    assert result.stdout == ""
