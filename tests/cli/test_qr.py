"""`sk connect --qr`: the magic link drawn as a QR code on stderr that encodes exactly the link
on stdout (checked module by module against segno's own matrix), and segno loaded only then."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import segno

from scalekit_cli.commands.qr import QUIET_ZONE, render

BLOCKS = set(" █▀▄")
SGR = re.compile(r"\033\[[0-9;]*m")
FAST = ("--interval", "0.1", "--timeout", "20")


def qr_lines(stderr: str) -> list[str]:
    """The lines of stderr drawn only with half blocks (the code), in order."""
    lines = [SGR.sub("", line) for line in stderr.splitlines()]
    return [line for line in lines if len(line) >= 21 and set(line) <= BLOCKS]


def drawn_modules(lines: list[str]) -> list[list[bool]]:
    """Read the drawing back: each character is two modules, True where light (inked)."""
    rows: list[list[bool]] = []
    for line in lines:
        rows.append([char in "█▀" for char in line])
        rows.append([char in "█▄" for char in line])
    return rows


def expected_modules(text: str) -> list[list[bool]]:
    """segno's matrix for `text` (1 = dark) with the light quiet zone around it, padded to an
    even number of rows with the terminal's (dark) background."""
    matrix = [list(row) for row in segno.make_qr(text).matrix]
    width = len(matrix[0]) + 2 * QUIET_ZONE
    border = [[True] * width for _ in range(QUIET_ZONE)]
    side = [True] * QUIET_ZONE
    rows = border + [side + [not dark for dark in row] + side for row in matrix] + border
    if len(rows) % 2:
        rows.append([False] * width)
    return rows


def assert_encodes(lines: list[str], text: str) -> None:
    assert lines, "no QR code drawn"
    assert drawn_modules(lines) == expected_modules(text)


def test_no_wait_qr_draws_the_link_on_stderr_and_keeps_stdout_bare(sk, sandbox):
    result = sk("connect", "gmail", "--user", "u", "--no-wait", "--qr")
    assert result.exit_code == 0, result.stderr
    link = result.stdout.strip()
    assert result.stdout == link + "\n" and "/magic/" in link  # the link alone, as without --qr
    assert_encodes(qr_lines(result.stderr), link)
    assert "\033[" not in result.stderr  # no terminal, no colour


def test_json_keeps_stdout_json_and_the_code_encodes_its_link(sk, sandbox):
    result = sk("connect", "gmail", "--user", "u", "--no-wait", "--qr", "--json")
    assert result.exit_code == 0
    assert_encodes(qr_lines(result.stderr), json.loads(result.stdout)["link"])


def test_waiting_connect_draws_the_code_under_the_link(sk, driver):
    driver.approve_later("gmail", "u", after_polls=2)
    result = sk("connect", "gmail", "--user", "u", "--qr", *FAST)
    assert result.exit_code == 0, result.stderr
    link = result.stdout.strip()
    assert result.stdout == link + "\n"
    assert_encodes(qr_lines(result.stderr), link)
    assert "connected" in result.stderr


def test_without_qr_there_is_no_code(sk, sandbox):
    result = sk("connect", "gmail", "--user", "u", "--no-wait")
    assert qr_lines(result.stderr) == []


def test_colour_draws_white_ink_on_black_whatever_the_theme():
    link = "https://example.scalekit.dev/magic/abc"
    lines = render(link, color=True)
    assert all(line.startswith("\033[97;40m") and line.endswith("\033[0m") for line in lines)
    assert_encodes([SGR.sub("", line) for line in lines], link)
    assert [SGR.sub("", line) for line in lines] == render(link, color=False)


def test_long_links_still_encode():
    link = "https://acme.scalekit.dev/magic/" + "x" * 400
    assert_encodes(render(link, color=False), link)


def test_segno_is_imported_only_for_a_code():
    code = "import sys, scalekit_cli.cli.app; print('segno' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_on_a_colour_terminal_the_code_keeps_its_escape_codes(sk_env, tmp_path):
    import os
    import pty

    from tests.cli.conftest import SK, read_terminal

    leader, follower = pty.openpty()
    env = {**os.environ, **sk_env, "TERM": "xterm-256color", "COLUMNS": "80"}
    process = subprocess.Popen(
        [str(SK), "connect", "gmail", "--user", "u", "--no-wait", "--qr"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=tmp_path,
    )
    os.close(follower)
    screen = read_terminal(leader, finished=lambda: process.poll() is not None)
    process.wait(timeout=10)
    os.close(leader)
    text = screen.decode("utf-8")
    assert process.returncode == 0, text
    # The renderer's own colour codes reach the terminal as codes, not as their escaped text.
    assert "\\x1b" not in text
    drawn = [line for line in text.splitlines() if line.startswith("\033[97;40m")]
    assert drawn and all(line.endswith("\033[0m") for line in drawn)
    (link,) = re.findall(r"http://127\.0\.0\.1:\d+/magic/[A-Za-z0-9_\-]+", text)
    assert_encodes(qr_lines("\n".join(drawn)), link)


LOOPBACK_NOTE = (
    "! the link points at this machine (loopback): a phone cannot open it; "
    "open it in a browser here"
)


def test_a_loopback_link_is_still_drawn_with_a_note_that_a_phone_cannot_reach_it(sk, sandbox):
    result = sk("connect", "gmail", "--user", "u", "--no-wait", "--qr")
    assert result.exit_code == 0, result.stderr
    link = result.stdout.strip()
    assert link.startswith("http://127.0.0.1:")
    assert LOOPBACK_NOTE in result.stderr.splitlines()
    assert_encodes(qr_lines(result.stderr), link)


def test_a_public_link_gets_no_such_note(sk, sandbox_factory):
    public = sandbox_factory(public_url="https://connect.example.test")
    env = {"SCALEKIT_ENV_URL": public.url, "SK_GMAIL_API_URL": public.url}
    result = sk("connect", "gmail", "--user", "u", "--no-wait", "--qr", env=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("https://connect.example.test/magic/")
    assert "loopback" not in result.stderr
    assert_encodes(qr_lines(result.stderr), result.stdout.strip())


def test_without_qr_a_loopback_link_needs_no_note(sk, sandbox):
    result = sk("connect", "gmail", "--user", "u", "--no-wait")
    assert result.exit_code == 0 and "loopback" not in result.stderr
