"""`--help` of every command names its values (CONNECTOR, SECONDS, KEY=VALUE — never a Python
type such as `<str>` or `<list[str]>`), describes every option, and `sk --help` gives each
command a summary that fits one line, on an 80- and a 120-column terminal.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios

import pytest

from scalekit_cli.cli.app import COMMANDS, load
from scalekit_cli.cli.builtins import BUILTINS
from tests.cli.conftest import SK, read_terminal

PYTHON_TYPE = re.compile(r"<[\w\[\], |.]+>|\{[A-Z_]+\}")
# A value name: upper case (ID, KEY=VALUE), alternatives (JSON|@FILE|-), or choices (a|b).
_NAME = r"(?:@?[A-Z][A-Z0-9_]*(?:=[A-Z]+)?|-)"
VALUE_NAME = re.compile(rf"{_NAME}(?:\|{_NAME})*|[a-z]+(?:\|[a-z]+)+")
SECTIONS = ("Arguments:", "Options:", "Global options (before or after the command):")


def command_paths() -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = [()]

    def walk(path: tuple[str, ...], command) -> None:
        paths.append(path)
        for name, child in getattr(command, "commands", {}).items():
            walk((*path, name), child)

    for entry in COMMANDS:
        walk((entry.name,), load(entry.name))
    return paths


def rows(help_text: str) -> dict[str, list[tuple[str, str]]]:
    """Section title → (term, help) rows, a help text wrapped onto later lines joined up."""
    found: dict[str, list[tuple[str, str]]] = {}
    section = None
    for line in help_text.splitlines():
        if line and not line.startswith(" "):
            section = line if line.endswith(":") else None
            if section:
                found[section] = []
            continue
        if section is None or not line.strip():
            continue
        if line.startswith("  ") and not line.startswith("   "):
            term, _, text = line.strip().partition("  ")
            found[section].append((term, text.strip()))
        elif found[section]:
            term, text = found[section][-1]
            found[section][-1] = (term, f"{text} {line.strip()}".strip())
    return found


PATHS = command_paths()


def _command(path: tuple[str, ...]):
    command = load(path[0])
    for name in path[1:]:
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "sk")
def test_help_names_every_value_and_describes_every_option(sk, path):
    result = sk(*path, "--help", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert not PYTHON_TYPE.findall(text), PYTHON_TYPE.findall(text)
    sections = rows(text)
    assert "Options:" in sections
    for title in SECTIONS:
        for term, description in sections.get(title, []):
            assert description, f"{' '.join(path)}: {term} has no help text"
            if title == "Arguments:":
                for word in term.split():
                    assert VALUE_NAME.fullmatch(word.strip("[]")), term
                continue
            # `-u, --user ID`: the last word names the value unless the option is a flag.
            words = term.replace(",", " ").split()
            values = [word for word in words if not word.startswith("-")]
            for value in values:
                assert VALUE_NAME.fullmatch(value.strip("'")), f"{term}: {value}"
    for name, summary in sections.get("Commands:", []):
        assert summary and not summary.endswith("..."), f"{name}: {summary!r} is cut short"
    usage = text.splitlines()[0]
    assert usage.startswith("Usage: sk") and "{" not in usage, usage


def test_the_values_are_named_for_what_they_are(sk):
    connect = sk("connect", "--help").stdout
    assert (
        re.search(r"--timeout SECONDS\b", connect)
        and "Usage: sk connect [OPTIONS] CONNECTOR" in connect
    )
    assert re.search(r"-p, --param KEY=VALUE\b", sk("exec-tool", "--help").stdout)
    assert re.search(r"-n, --limit N\b", sk("gmail", "unread", "--help").stdout)
    serve = rows(sk("sandbox", "serve", "--help").stdout)["Options:"]
    described = dict(serve)
    assert described["--client-id ID"] and described["--client-secret SECRET"]


def _help_on_a_terminal(columns: int) -> str:
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "LINES")}
    process = subprocess.Popen(
        [str(SK), "--help"], stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    screen = read_terminal(leader, lambda _: None, finished=lambda: process.poll() is not None)
    process.wait(timeout=30)
    os.close(leader)
    assert process.returncode == 0
    return screen.decode("utf-8").replace("\r\n", "\n")


@pytest.mark.parametrize("columns", [80, 120])
def test_every_summary_fits_one_line(columns):
    text = _help_on_a_terminal(columns)
    lines = text.splitlines()
    start = lines.index("Commands:") + 1
    names = [entry.name for entry in COMMANDS] + list(BUILTINS)
    listed = lines[start : start + len(names)]
    assert [line.split()[0] for line in listed] == names
    for line in listed:
        assert len(line) <= columns and not line.endswith("..."), line
    # Nothing wrapped: the next line after the table is not a continuation of it.
    assert start + len(names) == len(lines) or not lines[start + len(names)].strip()


def test_a_mistyped_command_is_suggested_from_the_registry(sk):
    # The commands are loaded lazily; the suggestion still knows every one of them.
    result = sk("stauts", "--user", "u")
    assert result.exit_code == 2
    assert "no such command 'stauts'. Did you mean 'status'?" in result.stderr


LEAVES = [path for path in PATHS if path and not getattr(_command(path), "commands", None)]
GROUPS = [path for path in PATHS if path not in LEAVES]


def examples(help_text: str) -> list[str]:
    lines = help_text.splitlines()
    assert "Examples:" in lines, "no Examples section"
    found = []
    for line in lines[lines.index("Examples:") + 1 :]:
        if not line.strip():
            break
        found.append(line.strip())
    return found


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_every_commands_help_ends_with_examples_that_parse(sk, path):
    """Two or three examples, last in the help, each a command line of this very command
    that sk's parser accepts as written (no usage error)."""
    import shlex

    import click
    import typer

    from scalekit_cli.cli.app import app
    from scalekit_cli.cli.global_options import GlobalValues

    text = sk(*path, "--help").stdout
    found = examples(text)
    assert 2 <= len(found) <= 3, found
    assert text.rstrip().endswith(found[-1])
    root = typer.main.get_command(app)
    for example in found:
        words = shlex.split(example)
        assert words[: 1 + len(path)] == ["sk", *path], example
        parent = click.Context(root, info_name="sk", obj=GlobalValues())
        with parent:
            context = _command(path).make_context(path[-1], words[1 + len(path) :], parent=parent)
            assert context.command is _command(path)


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(p) or "sk")
def test_every_groups_help_ends_with_examples_of_its_commands(sk, path):
    text = sk(*path, "--help").stdout
    found = examples(text)
    assert 2 <= len(found) <= 3 and text.rstrip().endswith(found[-1]), found
    for example in found:
        assert example.startswith(" ".join(("sk", *path)) + " "), example


def test_sk_help_is_the_commands_own_help(sk):
    for path in (("connect",), ("gmail", "unread"), ("sandbox",), ()):
        assert sk("help", *path).stdout == sk(*path, "--help").stdout, path
    wrong = sk("help", "frobnicate")
    assert wrong.exit_code == 2 and wrong.stderr.startswith("sk: no such command")


def test_sk_version_prints_the_version(sk):
    from scalekit_cli import __version__

    assert sk("version").stdout == sk("--version").stdout == f"sk {__version__}\n"
