"""`sk mcp serve` run by hand in a terminal: it says what it waits for, and the first Ctrl-C
stops it."""

from __future__ import annotations

import fcntl
import os
import pty
import subprocess
import termios
import time

import anyio

from tests.cli.conftest import SK, assert_no_leak, read_terminal
from tests.conftest import CANARY_CLIENT_SECRET

HINT = "sk mcp serve waits for an MCP client on stdin"


def _take_the_terminal() -> None:
    """In the child, after setsid: the pseudo-terminal on stdin becomes its controlling
    terminal, so Ctrl-C typed there sends SIGINT as a real terminal does."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_on_a_terminal_it_explains_itself_and_the_first_ctrl_c_stops_it(sk_env, tmp_path):
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(SK), "mcp", "serve", "--user", "user_123"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, **sk_env, "TERM": "xterm-256color", "COLUMNS": "200"},
        cwd=tmp_path,
        start_new_session=True,
        preexec_fn=_take_the_terminal,
    )
    os.close(follower)
    try:
        pressed: list[float] = []

        def press_ctrl_c_once_serving(screen: bytes) -> None:
            if not pressed and b"on stdio" in screen:
                os.write(leader, b"\x03")
                pressed.append(time.monotonic())

        screen = read_terminal(
            leader,
            press_ctrl_c_once_serving,
            finished=lambda: process.poll() is not None,
            timeout=30,
        )
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    text = screen.decode("utf-8", "replace")
    assert len(pressed) == 1, text
    assert process.returncode == 130, text
    assert HINT in text
    assert "sk mcp install CLIENT --user user_123" in text
    assert "sk: interrupted" in text
    assert "Traceback" not in text
    assert_no_leak(text, CANARY_CLIENT_SECRET)


def test_under_an_agent_host_it_says_nothing_of_the_kind(harness):
    async def main():
        async with harness.client("stdio") as client:
            return await client.list_tools()

    assert anyio.run(main).tools
    assert HINT not in harness.stderr()
