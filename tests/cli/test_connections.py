"""`sk connections list [--user ID]`: the environment's connections from
`GET /api/v1/connections/app`, with a user's accounts; and the "did you mean" for connector
names, which draws on that list where the environment serves it."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest

from scalekit_cli.sandbox.settings import default_connections
from tests.cli.conftest import assert_no_leak, assert_one_error_line
from tests.cli.test_tables import header_and_rows, on_a_terminal
from tests.conftest import CANARY_CLIENT_SECRET

APP_CONNECTIONS = "/api/v1/connections/app"
CONNECTIONS = default_connections()
NAMES = [connection.name for connection in CONNECTIONS]


def _calls(sandbox, path: str = APP_CONNECTIONS) -> list[dict]:
    return [r for r in sandbox.requests() if r["path"] == path]


def test_list_is_tab_separated_in_a_pipe(sk, sandbox):
    sandbox.clear_requests()
    result = sk("connections", "list")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Name\tProvider\tAuth"
    assert [line.split("\t") for line in lines[1:]] == [
        [c.name, c.provider, c.authorization_type] for c in CONNECTIONS
    ]
    assert result.stderr == ""
    (call,) = _calls(sandbox)
    assert ("page_size", "30") in parse_qsl(call["query"])  # the rule's largest page


def test_list_with_a_user_shows_their_accounts_and_statuses(sk, driver, sandbox):
    driver.connect("gmail", "user_123")
    driver.link("slack", "user_123")  # an account that waits for its consent
    result = sk("connections", "list", "--user", "user_123")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Name\tProvider\tAuth\tAccount"
    accounts = {line.split("\t")[0]: line.split("\t")[3] for line in lines[1:]}
    assert accounts == {name: "-" for name in NAMES} | {"gmail": "ACTIVE", "slack": "PENDING_AUTH"}


def test_list_json_is_an_array_of_stable_documents(sk, driver, sandbox):
    account = driver.connect("gmail", "user_123")
    plain = json.loads(sk("connections", "list", "--json").stdout)
    assert [d["name"] for d in plain] == NAMES
    assert plain[0] == {
        "name": "gmail",
        "provider": "GOOGLE",
        "authorization_type": "OAUTH",
        "id": CONNECTIONS[0].connection_id,
    }
    result = sk("connections", "list", "--user", "user_123", "--json")
    assert result.exit_code == 0, result.stderr
    documents = {d["name"]: d for d in json.loads(result.stdout)}
    assert documents["gmail"]["account"] == {"id": account["id"], "status": "ACTIVE"}
    assert documents["exa"]["account"] is None
    assert documents["exa"]["authorization_type"] == "API_KEY"
    assert_no_leak(result, CANARY_CLIENT_SECRET)


def test_list_filters_by_provider_on_the_server(sk, sandbox):
    sandbox.clear_requests()
    result = sk("connections", "list", "--provider", "GOOGLE")
    assert result.exit_code == 0, result.stderr
    assert [line.split("\t")[0] for line in result.stdout.splitlines()[1:]] == [
        "gmail",
        "googlecalendar",
    ]
    (call,) = _calls(sandbox)
    assert ("provider", "GOOGLE") in parse_qsl(call["query"])
    none = sk("connections", "list", "--provider", "NOPE")
    assert (none.exit_code, none.stdout) == (0, "")
    assert "no connection of that provider" in none.stderr


def test_list_draws_a_table_on_a_terminal(sk_env, tmp_path, driver):
    driver.connect("gmail", "user_123")
    lines = on_a_terminal(sk_env, tmp_path, 80, "connections", "list", "--user", "user_123")
    header, rows = header_and_rows(lines, "Name")
    assert header == ["Name", "Provider", "Auth", "Account"]
    assert "\t" not in "".join(rows)
    assert rows[0].split() == ["gmail", "GOOGLE", "OAUTH", "ACTIVE"]
    assert len(rows) == len(NAMES)


def test_an_environment_without_the_rpc_is_one_clear_line(sk, sandbox):
    sandbox.fault(path=APP_CONNECTIONS, kind="status", status=404)
    result = sk("connections", "list")
    assert result.exit_code == 1
    line = assert_one_error_line(result)
    assert "does not list its connections" in line
    assert result.stdout == ""


@pytest.mark.parametrize("args", [["--user", ""], ["--provider", " "]])
def test_bad_input_is_exit_2_before_any_request(sk, sandbox, args):
    sandbox.clear_requests()
    result = sk("connections", "list", *args)
    assert result.exit_code == 2
    assert_one_error_line(result)
    assert _calls(sandbox) == []


# -- "did you mean" draws on the environment's connections ----------------------------------


def test_a_connection_without_tools_is_known_through_connections_app(sk, sandbox):
    """A connection with no tool in the catalogue is found only in connections/app: a name
    close to it is a typo of it."""
    sandbox.settings.connections.append(
        type(CONNECTIONS[0])("salesforce", "SALESFORCE", "OAUTH", [])
    )
    result = sk("tools", "search", "records", "--connector", "salesforse")
    assert result.exit_code == 2
    line = assert_one_error_line(result)
    assert "did you mean 'salesforce'?" in line


def test_without_connections_app_the_catalogue_still_suggests(sk, sandbox):
    sandbox.fault(path=APP_CONNECTIONS, kind="status", status=501)
    result = sk("tools", "search", "mail", "--connector", "gmial")
    assert result.exit_code == 2
    assert "did you mean 'gmail'?" in assert_one_error_line(result)


@pytest.mark.parametrize(
    ("command", "path", "body"),
    [
        (("connections", "list"), APP_CONNECTIONS, {"connections": "gmail"}),
        (("connections", "list"), APP_CONNECTIONS, {"connections": [{"enabled": "yes"}]}),
        (("tools", "search", "mail"), "/api/v1/tools:search", {"tools": [{"score": "high"}]}),
    ],
)
def test_an_answer_of_the_wrong_shape_is_one_clear_line(sk, sandbox, command, path, body):
    sandbox.fault(path=path, kind="mutate", mutation="replace", body=body)
    result = sk(*command)
    assert result.exit_code == 1
    assert_one_error_line(result)
    assert result.stdout == ""
