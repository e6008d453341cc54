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


HOSTILE = "a\x1b]0;T\x07b\x1b[2Jc\x9bd\u202ee\u2066f\rg\nsk: forged\u2028h\ti\x7f"


def test_one_neutraliser_on_every_path():
    """Every writer of the output layer: nothing a terminal would obey, nothing that reorders
    text, and one line per message."""
    out, stdout, stderr = _terminal_output()
    out.result(HOSTILE)
    out.table(("Name",), [[HOSTILE]])
    out.pretty_json({"value": HOSTILE})
    out.raw(HOSTILE.encode())
    for write in (out.info, out.warn, out.success, out.error):
        write(HOSTILE)
    with out.spinner(HOSTILE) as spinner:
        spinner.update(HOSTILE)
    own_styling = __import__("re").compile(r"\x1b\[[0-9;?]*[A-Za-z]")
    for stream in (stdout.getvalue(), stderr.getvalue()):
        plain = own_styling.sub("", stream)
        assert not any(ch in plain for ch in "\x07\x9b\u202e\u2066\r\x7f\u2028"), repr(plain)
        assert "\x1b]" not in plain and "\x1b[2J" not in stream
    errors = stderr.getvalue().splitlines()
    assert [line for line in errors if line.startswith("sk:")] == [
        "sk: a\\x1b]0;T\\x07b\\x1b[2Jc\\x9bd\\u202ee\\u2066f"
        "\\x0dg\\x0ask: forged\\u2028h\\x09i\\x7f"
    ]
    assert not any(line.startswith("sk: forged") for line in errors)


def test_json_stays_valid_with_every_hostile_character_escaped():
    out, stdout, _ = _terminal_output()
    out.json({"value": HOSTILE})
    text = stdout.getvalue()
    assert json.loads(text) == {"value": HOSTILE}  # the same value, losslessly
    assert not any(ch in text for ch in "\x1b\x07\x9b\u202e\u2066\r\x7f\u2028")
    assert "\\u009b" in text and "\\u202e" in text
    out, stdout, _ = _terminal_output()
    out.json_array([{"value": HOSTILE}, {"value": HOSTILE}])
    assert json.loads(stdout.getvalue()) == [{"value": HOSTILE}] * 2
