"""Usage errors end in one line and exit 2; identifiers are arbitrary text, sent exactly."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import assert_one_error_line

IDENTIFIERS = [
    "user+tag@example.com",
    "with space",
    "a/b?c&d#e=f%20g",
    "Zoë Ünïcødé 日本語 😀",
    "../../etc/passwd",
    "\u200fright-to-left",
    "x" * 100,  # the longest the service's rule allows
]


@pytest.mark.parametrize("identifier", IDENTIFIERS, ids=range(len(IDENTIFIERS)))
def test_identifiers_reach_the_server_exactly(sk, driver, identifier):
    result = sk("connect", "gmail", "--user", identifier, "--no-wait", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["identifier"] == identifier
    # Read back through the API by another client: the same bytes were stored.
    assert driver.account("gmail", identifier)["identifier"] == identifier
    status = sk("status", "gmail", "--user", identifier, "--json")
    assert status.exit_code == 3 and json.loads(status.stdout)["identifier"] == identifier


def test_usage_errors_are_one_line_in_a_subprocess(sk_process):
    for args in (
        ("frobnicate",),
        ("token", "gmail", "--user", "u", "--no-such-flag"),
        ("token",),
        ("gmail", "unread", "--user", "u", "--limit", "many"),
    ):
        result = sk_process(*args)
        assert result.exit_code == 2, (args, result.stderr)
        line = assert_one_error_line(result)
        assert "--help" in line
        assert len([x for x in result.stderr.splitlines() if x.strip()]) == 1


def test_no_arguments_shows_help(sk_process):
    for args in ((), ("gmail",)):
        result = sk_process(*args)
        assert result.exit_code == 0
        assert result.stdout.startswith("Usage: sk")
        assert result.stderr == ""


# A value given but empty — typically an unset variable expanded, `--profile "$P"` — is exit 2,
# never taken for the option left out (which would pick the default profile, print the token
# instead of writing it to $GITHUB_ENV, …). Each is refused before any request.
EMPTY_NAMES = [
    ("--profile", "", "status", "gmail", "--user", "u"),
    ("--profile", " ", "token", "gmail", "--user", "u", "--debug"),
    ("--env-url", "", "status", "gmail", "--user", "u"),
    ("--client-id", "", "status", "gmail", "--user", "u"),
    ("token", "gmail", "--user", "u", "--debug", "--to-github-env", ""),
    ("token", "gmail", "--user", "u", "--debug", "--to-github-output", ""),
    ("token", "gmail", "--user", "u", "--debug", "--field", ""),
    ("run", "gmail", "--user", "u", "--env", "", "--", "true"),
    ("run", "gmail", "--user", "u", "--refresh-env", "", "--", "true"),
    ("exec-tool", "gmail_fetch_mails", "--user", "u", "--connector", ""),
    ("exec-tool", "gmail_fetch_mails", "--account-id", ""),
    ("connect", "gmail", "--user", "u", "--verify-url", ""),
    ("accounts", "list", "--connector", ""),
    ("tools", "list", "--provider", ""),
    ("login", "--profile", "", "--env-url", "http://127.0.0.1:9", "--client-id", "x"),
    ("login", "--env-url", "", "--client-id", "x"),
    ("logout", "--profile", ""),
]


@pytest.mark.parametrize("args", EMPTY_NAMES, ids=" ".join)
def test_empty_names_are_refused(args, sk, sandbox, tmp_path):
    sandbox.clear_requests()
    result = sk(
        *args, env={"GITHUB_ENV": str(tmp_path / "env"), "GITHUB_OUTPUT": str(tmp_path / "out")}
    )
    assert result.exit_code == 2, result.streams
    line = assert_one_error_line(result)
    assert any(words in line for words in ("must not be empty", "not a variable name", "not valid"))
    assert result.stdout == ""
    assert sandbox.requests() == []
    assert not (tmp_path / "env").exists() and not (tmp_path / "out").exists()


def test_every_command_takes_json_but_the_documented_exceptions():
    """README: every command takes --json, except `sk run` (its output is its child's),
    `sk sandbox …`, `sk mcp serve` and `sk completion`; the tree and the sentence are held
    together."""
    from pathlib import Path

    from scalekit_cli.cli.app import leaf_commands
    from scalekit_cli.cli.global_options import GlobalClickOption

    # Its own --json, not the global option every command carries.
    without = {
        " ".join(path)
        for path, command in leaf_commands()
        if not any(
            "--json" in param.opts and not isinstance(param, GlobalClickOption)
            for param in command.params
        )
    }
    exceptions = {
        "run", "sandbox serve", "sandbox reset", "sandbox force", "sandbox seed", "mcp serve",
    }  # fmt: skip
    assert without == exceptions | {"completion"}
    readme = (Path(__file__).parents[2] / "docs" / "commands.md").read_text(encoding="utf-8")
    assert (
        "stdout; every command but `sk run`, whose output is its child's, `sk sandbox …`, "
        "`sk mcp serve`,\nwhose stdout is the protocol's, and `sk completion`)"
    ) in readme
