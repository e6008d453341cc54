"""JSON shown on a real terminal (a pseudo-terminal of 80 and 100 columns) wraps at its edge and
is never cut: every character of the document is on the screen. A pipe still gets it exact."""

from __future__ import annotations

import json
import re

import pytest

from scalekit_cli.tables import cell_width
from tests.cli.test_tables import on_a_terminal

WHITESPACE = re.compile(r"\s+")


def _squeezed(text: str) -> str:
    """Text without its whitespace: wrapping moves line breaks, it must not lose characters."""
    return WHITESPACE.sub("", text)


def _assert_whole_and_within(lines: list[str], document: object, columns: int) -> None:
    screen = _squeezed("".join(lines))
    for value in _strings(document):
        assert _squeezed(json.dumps(value, ensure_ascii=False)) in screen, f"{value!r} was cut"
    assert all(cell_width(line) <= columns for line in lines), [
        line for line in lines if cell_width(line) > columns
    ]


def _strings(document: object) -> list[str]:
    if isinstance(document, dict):
        return [s for value in document.values() for s in _strings(value)]
    if isinstance(document, list):
        return [s for value in document for s in _strings(value)]
    return [document] if isinstance(document, str) else []


def _wider_than(document: object, columns: int) -> bool:
    """Whether the document, laid out as sk lays it out, has a line wider than the terminal."""
    laid_out = json.dumps(document, indent=2, ensure_ascii=False).splitlines()
    return max(cell_width(line) for line in laid_out) > columns


@pytest.mark.parametrize("columns", [80, 100])
def test_exec_tool_json_wraps_on_a_terminal(sk, sk_env, tmp_path, driver, columns):
    driver.connect("gmail", "u")
    args = ("exec-tool", "gmail_fetch_mails", "--user", "u", "-p", "max_results=3")
    piped = sk(*args)
    assert piped.exit_code == 0, piped.stderr
    data = json.loads(piped.stdout)  # a pipe: the exact document, as before
    assert _wider_than(data, columns), "the mailbox holds a line wider than the terminal"
    lines = on_a_terminal(sk_env, tmp_path, columns, *args)
    _assert_whole_and_within(lines, data, columns)


@pytest.mark.parametrize("columns", [80, 100])
def test_request_json_wraps_on_a_terminal(sk, sk_env, tmp_path, driver, columns):
    driver.connect("gmail", "u")
    listed = json.loads(sk("request", "gmail", "--user", "u", "/gmail/v1/users/me/messages").stdout)
    path = f"/gmail/v1/users/me/messages/{listed['messages'][0]['id']}"
    message = json.loads(sk("request", "gmail", "--user", "u", path).stdout)
    assert _wider_than(message, columns)
    lines = on_a_terminal(sk_env, tmp_path, columns, "request", "gmail", "--user", "u", path)
    _assert_whole_and_within(lines, message, columns)


@pytest.mark.parametrize("columns", [80, 100])
def test_demo_step_four_wraps_on_a_terminal(sk_env, tmp_path, columns):
    lines = on_a_terminal(sk_env, tmp_path, columns, "demo")
    start = next(i for i, line in enumerate(lines) if line.startswith("4. "))
    end = next(i for i, line in enumerate(lines) if line.startswith("Done."))
    shown = lines[start + 1 : end]
    # Wrapping moves only whitespace; a cut line would leave a string or a brace unclosed.
    document = json.loads(_squeezed("\n".join(shown)))
    assert _wider_than(document, columns)
    assert all(cell_width(line) <= columns for line in shown)
