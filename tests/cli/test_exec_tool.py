"""`sk exec-tool`: params from -d and --param, sent as `params`, output as answered."""

from __future__ import annotations

import json

from tests.cli.conftest import assert_one_error_line


def _tool_calls(sandbox) -> list[dict]:
    return [
        json.loads(r["body"]) for r in sandbox.requests() if r["path"] == "/api/v1/execute_tool"
    ]


def test_fetch_mails_with_data_and_params(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    result = sk(
        "exec-tool",
        "gmail_fetch_mails",
        "--user",
        "u",
        "-d",
        '{"query": "is:unread"}',
        "--param",
        "max_results=3",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"execution_id", "data"}
    assert document["execution_id"]
    (body,) = _tool_calls(sandbox)
    # Exactly the fields the schema names; `params`, never `tool_input`.
    assert body == {
        "tool_name": "gmail_fetch_mails",
        "params": {"query": "is:unread", "max_results": 3},
        "connector": "gmail",
        "identifier": "u",
    }


def test_param_values_parse_as_json_where_they_can(sk, driver, sandbox):
    driver.connect("gmail", "u")
    # Without a catalogue the params go out unchecked: this test is about parsing, and two of
    # them are not gmail_fetch_mails parameters (the schema check is in test_tools.py).
    sandbox.fault(path="/api/v1/tools", kind="status", status=404)
    sandbox.clear_requests()
    sk(
        "exec-tool",
        "gmail_fetch_mails",
        "--user",
        "u",
        "--connector",
        "gmail",
        "-p",
        "max_results=2",
        "-p",
        "query=is:unread from:x",
        "-p",
        'labels=["a"]',
        "-p",
        "flag=true",
    )
    (body,) = _tool_calls(sandbox)
    assert body["params"] == {
        "max_results": 2,
        "query": "is:unread from:x",
        "labels": ["a"],
        "flag": True,
    }


def test_data_from_file_and_stdin(sk, driver, sandbox, tmp_path):
    driver.connect("gmail", "u")
    args_file = tmp_path / "args.json"
    args_file.write_text('{"max_results": 1}')
    assert sk("exec-tool", "gmail_fetch_mails", "--user", "u", "-d", f"@{args_file}").exit_code == 0
    assert (
        sk(
            "exec-tool", "gmail_fetch_mails", "--user", "u", "-d", "-", input='{"max_results": 2}'
        ).exit_code
        == 0
    )
    calls = _tool_calls(sandbox)
    assert [c["params"] for c in calls[-2:]] == [{"max_results": 1}, {"max_results": 2}]


def test_account_id_and_verbose_connector_note(sk, driver, sandbox):
    account = driver.connect("gmail", "u")
    sandbox.clear_requests()
    by_id = sk("exec-tool", "gmail_get_profile", "--account-id", account["id"], "--json")
    assert by_id.exit_code == 0, by_id.stderr
    (body,) = _tool_calls(sandbox)
    assert body == {
        "tool_name": "gmail_get_profile",
        "params": {},
        "connected_account_id": account["id"],
    }
    verbose = sk("exec-tool", "gmail_get_profile", "--user", "u", "-v")
    assert verbose.exit_code == 0
    assert "connector 'gmail' taken from the tool name" in verbose.stderr


def test_errors(sk, driver, sandbox):
    sandbox.clear_requests()
    for args in (
        ("-d", "[1, 2]"),
        ("-d", "{not json"),
        ("-d", "@/no/such/file.json"),
        ("--param", "novalue"),
    ):
        result = sk("exec-tool", "gmail_fetch_mails", "--user", "u", *args)
        assert result.exit_code == 2, args
        assert_one_error_line(result)
    assert sandbox.requests() == []
    missing_account = sk("exec-tool", "gmail_fetch_mails", "--user", "u")
    assert missing_account.exit_code == 3
    assert "sk connect gmail --user u" in assert_one_error_line(missing_account)
    driver.connect("gmail", "u")
    unknown = sk("exec-tool", "gmail_no_such_tool", "--user", "u")
    assert unknown.exit_code == 2  # wrong input, like a mistyped option
    assert "no tool named 'gmail_no_such_tool'" in assert_one_error_line(unknown)
    driver.link("gmail", "pending")
    not_active = sk("exec-tool", "gmail_fetch_mails", "--user", "pending")
    assert not_active.exit_code == 3
    assert "sk connect gmail --user pending" in assert_one_error_line(not_active)
