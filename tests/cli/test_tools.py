"""`sk tools list / show`, and exec-tool checking params against the tool's input schema
before anything is executed."""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import parse_qsl

from scalekit_cli.sandbox.tools import default_tools
from tests.cli.conftest import assert_one_error_line

TOOLS = "/api/v1/tools"
EXECUTE = "/api/v1/execute_tool"
CATALOGUE = {tool.name: tool for tool in default_tools()}


def _queries(sandbox, path: str = TOOLS) -> list[list[tuple[str, str]]]:
    return [parse_qsl(r["query"]) for r in sandbox.requests() if r["path"] == path]


def _executions(sandbox) -> list[dict]:
    return [r for r in sandbox.requests() if r["path"] == EXECUTE]


# -- sk tools list ---------------------------------------------------------------------------


def test_list_prints_names_and_descriptions_tab_separated_in_a_pipe(sk, sandbox):
    result = sk("tools", "list")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Name\tDescription"
    rows = [line.split("\t") for line in lines[1:]]
    assert {name: description for name, description in rows} == {
        name: tool.description for name, tool in CATALOGUE.items()
    }
    assert result.stderr == ""


def test_list_filters_on_the_server(sk, sandbox):
    sandbox.clear_requests()
    result = sk("tools", "list", "--connector", "gmail", "--query", "profile")
    assert result.exit_code == 0, result.stderr
    assert [line.split("\t")[0] for line in result.stdout.splitlines()[1:]] == ["gmail_get_profile"]
    (query,) = _queries(sandbox)
    assert ("filter.connector", "gmail") in query
    assert ("filter.query", "profile") in query


def test_list_json_carries_the_input_schemas(sk, sandbox):
    result = sk("tools", "list", "--provider", "GOOGLE", "--json")
    assert result.exit_code == 0, result.stderr
    documents = json.loads(result.stdout)
    assert [d["name"] for d in documents] == [
        "gmail_fetch_mails",
        "gmail_get_profile",
        "googlecalendar_list_events",
        "googlecalendar_create_event",
    ]
    for document in documents:
        assert set(document) == {"name", "description", "provider", "input_schema"}
        assert document["provider"] == "GOOGLE"
        assert document["input_schema"] == CATALOGUE[document["name"]].input_schema
    assert ("filter.provider", "GOOGLE") in _queries(sandbox)[-1]


def test_list_with_no_match_is_empty_and_says_so(sk, sandbox):
    result = sk("tools", "list", "--query", "no-such-tool-anywhere")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no tools match" in result.stderr
    as_json = sk("tools", "list", "--query", "no-such-tool-anywhere", "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.stdout) == []


def test_list_reads_every_page(sk, sandbox):
    # A catalogue bigger than the 100-tool page the CLI asks for.
    gmail = CATALOGUE["gmail_get_profile"]
    sandbox.engine.tools.extend(replace(gmail, name=f"gmail_extra_{i:03d}") for i in range(120))
    sandbox.clear_requests()
    result = sk("tools", "list", "--json")
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) == len(CATALOGUE) + 120
    first, second = _queries(sandbox)
    assert ("page_size", "100") in first and not any(k == "page_token" for k, _ in first)
    assert any(k == "page_token" for k, _ in second)


def test_list_rejects_a_bad_connector_before_any_request(sk, sandbox):
    sandbox.clear_requests()
    result = sk("tools", "list", "--connector", "gm/ail")
    assert result.exit_code == 2
    assert "connector" in assert_one_error_line(result)
    assert sandbox.requests() == []


# -- sk tools show ---------------------------------------------------------------------------


def test_show_prints_the_description_and_schema(sk, sandbox):
    sandbox.clear_requests()
    result = sk("tools", "show", "slack_send_message")
    assert result.exit_code == 0, result.stderr
    head, _, schema = result.stdout.partition("Input schema:\n")
    assert head.splitlines()[:2] == [
        "slack_send_message (SLACK)",
        "Send a message to a Slack channel as the connected user.",
    ]
    assert json.loads(schema) == CATALOGUE["slack_send_message"].input_schema
    (query,) = _queries(sandbox)
    assert ("filter.tool_name", "slack_send_message") in query


def test_show_json(sk, sandbox):
    result = sk("tools", "show", "gmail_fetch_mails", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "name": "gmail_fetch_mails",
        "description": CATALOGUE["gmail_fetch_mails"].description,
        "provider": "GOOGLE",
        "input_schema": CATALOGUE["gmail_fetch_mails"].input_schema,
    }


def test_show_an_unknown_tool_is_exit_2(sk, sandbox):
    result = sk("tools", "show", "gmail_fetch_mail")
    assert result.exit_code == 2
    assert result.stdout == ""
    line = assert_one_error_line(result)
    assert "no tool named 'gmail_fetch_mail'" in line and "sk tools list" in line


# -- exec-tool checks params against the schema ----------------------------------------------


def test_a_wrong_type_is_exit_2_and_nothing_is_executed(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    result = sk("exec-tool", "gmail_fetch_mails", "--user", "u", "-p", "max_results=five")
    assert result.exit_code == 2
    line = assert_one_error_line(result)
    assert line.startswith("sk: params.max_results: expected integer, got string")
    assert "sk tools show gmail_fetch_mails" in line
    # One catalogue read for exactly this tool, and no execution.
    assert _queries(sandbox) == [[("filter.tool_name", "gmail_fetch_mails"), ("page_size", "100")]]
    assert _executions(sandbox) == []


def test_unknown_and_missing_fields_are_named(sk, driver, sandbox):
    driver.connect("slack", "u")
    sandbox.clear_requests()
    typo = sk("exec-tool", "slack_send_message", "--user", "u", "-d", '{"chanel": "#a"}')
    assert typo.exit_code == 2
    assert "params.chanel: not a parameter of this tool; did you mean channel?" in (
        assert_one_error_line(typo)
    )
    missing = sk("exec-tool", "slack_send_message", "--user", "u", "-p", "channel=#a")
    assert missing.exit_code == 2
    assert "params.text: required, but missing" in assert_one_error_line(missing)
    nested = sk("exec-tool", "gmail_fetch_mails", "--user", "u", "-p", 'label_ids=["A", 1]')
    assert nested.exit_code == 2
    assert "params.label_ids[1]: expected string, got integer" in assert_one_error_line(nested)
    assert _executions(sandbox) == []


def test_fitting_params_are_sent_after_one_catalogue_read(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    result = sk("exec-tool", "gmail_fetch_mails", "--user", "u", "-p", "max_results=2")
    assert result.exit_code == 0, result.stderr
    paths = [r["path"] for r in sandbox.requests() if r["path"].startswith("/api/")]
    assert paths == [TOOLS, EXECUTE]


def test_without_a_readable_catalogue_the_server_decides(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.fault(path=TOOLS, kind="status", status=500)
    sandbox.clear_requests()
    result = sk("exec-tool", "gmail_fetch_mails", "--user", "u", "-p", "max_results=2", "-v")
    assert result.exit_code == 0, result.stderr
    assert "sending the params unchecked" in result.stderr
    assert len(_executions(sandbox)) == 1
    # A wrong param now reaches the server, whose 400 is the answer.
    bad = sk("exec-tool", "gmail_fetch_mails", "--user", "u", "-p", "max_results=five")
    assert bad.exit_code == 1
    assert "INVALID_TOOL_INPUT" in assert_one_error_line(bad)
    assert len(_executions(sandbox)) == 2


def test_a_tool_missing_from_the_catalogue_is_exit_2_with_the_closest_names(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    result = sk("exec-tool", "gmail_fetch_mail", "--user", "u")
    assert result.exit_code == 2
    line = assert_one_error_line(result)
    assert "no tool named 'gmail_fetch_mail'; did you mean 'gmail_fetch_mails'" in line
    assert "sk connect" not in line
    assert _executions(sandbox) == []
    # --no-check skips the catalogue; the server's TOOL_NOT_FOUND then reads the same.
    unchecked = sk("exec-tool", "gmail_fetch_mail", "--user", "u", "--no-check")
    assert unchecked.exit_code == 2
    assert assert_one_error_line(unchecked) == line
    assert len(_executions(sandbox)) == 1
    # tools show says it in the same words.
    shown = sk("tools", "show", "gmail_fetch_mail")
    assert shown.exit_code == 2
    assert assert_one_error_line(shown) == line


def test_a_param_the_schema_does_not_name_is_refused_with_the_closest_name(sk, driver, sandbox):
    # gmail_fetch_mails' schema leaves additionalProperties open: the live service would drop
    # `max_result` silently and return the default count.
    assert "additionalProperties" not in CATALOGUE["gmail_fetch_mails"].input_schema
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    typo = sk("exec-tool", "gmail_fetch_mails", "--user", "u", "-d", '{"max_result": 1}')
    assert typo.exit_code == 2
    line = assert_one_error_line(typo)
    assert "params.max_result: not a parameter of this tool; did you mean max_results?" in line
    assert _executions(sandbox) == []
    # --no-check skips the whole check: not even the catalogue is read, and the params go out.
    sandbox.clear_requests()
    sent = sk(
        "exec-tool", "gmail_fetch_mails", "--user", "u", "-d", '{"max_result": "x"}', "--no-check"
    )
    assert sent.exit_code == 0, sent.stderr
    assert _queries(sandbox) == []
    assert [json.loads(r["body"])["params"] for r in _executions(sandbox)] == [{"max_result": "x"}]
