"""What data can do to a terminal: nothing. Markup and escape sequences are shown, not obeyed."""

from __future__ import annotations

import io
import json

from scalekit_cli.output import Output, printable
from scalekit_cli.scalekit.secrets import SecretRegistry
from tests.cli.conftest import assert_one_error_line


def _terminal_output() -> tuple[Output, io.StringIO, io.StringIO]:
    stdout, stderr = io.StringIO(), io.StringIO()
    out = Output(
        stdout=stdout,
        stderr=stderr,
        stdin=io.StringIO(),
        stdout_tty=True,
        stderr_tty=True,
        stdin_tty=False,
        color=True,
        secrets=SecretRegistry(),
    )
    return out, stdout, stderr


def test_rich_markup_in_cells_and_spinner_text_is_literal():
    out, stdout, _ = _terminal_output()
    out.table(("Subject",), [["oops [/]"], ["[bold red]shout[/bold red]"]])
    assert "oops [/]" in stdout.getvalue()
    assert "[bold red]shout[/bold red]" in stdout.getvalue()
    with out.spinner("waiting for bob[/]") as spinner:
        spinner.update("still waiting for bob[bold red]")


def test_escape_sequences_from_servers_are_made_visible():
    assert printable("evil\x1b[2Jtext\r\x07") == "evil\\x1b[2Jtext\\x0d\\x07"
    out, _, stderr = _terminal_output()
    out.error("server says \x1b]0;pwned\x07")
    assert "\x1b]" not in stderr.getvalue() and "\\x1b]0;pwned" in stderr.getvalue()


def test_the_connect_hint_keeps_the_root_options(sk, sandbox):
    result = sk(
        "--env-url", sandbox.url, "token", "gmail", "--user", "nobody", env={"SCALEKIT_ENV_URL": ""}
    )
    assert result.exit_code == 3
    line = assert_one_error_line(result)
    assert f"run: sk --env-url {sandbox.url} connect gmail --user nobody" in line


def test_status_json_stays_valid_when_a_later_page_fails(sk, sandbox_factory):
    from scalekit_cli.sandbox import Connection
    from tests.cli.conftest import SandboxDriver

    connections = [Connection(f"app{index:03d}", "TEST", "OAUTH", []) for index in range(120)]
    live = sandbox_factory(connections=connections)
    driver = SandboxDriver(live)
    for connection in connections:
        driver.api(
            "POST",
            "/api/v1/connected_accounts",
            json={"connector": connection.name, "identifier": "many", "connected_account": {}},
        )
    # The first page answers; every later one fails.
    live.fault(path="/api/v1/connected_accounts", method="GET", kind="status", status=503, after=1)
    result = sk("status", "--user", "many", "--json", env={"SCALEKIT_ENV_URL": live.url})
    assert result.exit_code == 1
    # The first page's 99 accounts, in an array closed despite the failure.
    assert len(json.loads(result.stdout)) == 99
    assert_one_error_line(result)
