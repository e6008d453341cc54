"""On a terminal: a spinner with elapsed time and the link's life; NO_COLOR turns it off."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time

from scalekit_cli.hosted_form import approve_as_browser
from tests.cli.conftest import SK

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LINK = re.compile(r"http://127\.0\.0\.1:\d+/magic/[A-Za-z0-9_\-]+")


def _run_on_a_terminal(sk_env: dict[str, str], cwd, extra_env: dict[str, str], driver) -> str:
    """Run `sk connect` with stdout and stderr on a pseudo-terminal; approve after a few polls."""
    leader, follower = pty.openpty()
    env = {**os.environ, **sk_env, "TERM": "xterm-256color", "COLUMNS": "200", **extra_env}
    process = subprocess.Popen(
        [str(SK), "connect", "gmail", "--user", "u", "--interval", "0.2", "--timeout", "20"],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=cwd,
    )
    os.close(follower)
    screen = b""
    approved = False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        text = screen.decode("utf-8", "replace")
        if not approved and driver.polls() >= 6 and LINK.search(text):
            approve_as_browser(LINK.search(text).group(0))
            approved = True
        if process.poll() is not None and not ready:
            break
    process.wait(timeout=10)
    os.close(leader)
    assert process.returncode == 0, screen.decode("utf-8", "replace")
    return screen.decode("utf-8", "replace")


def test_spinner_shows_elapsed_time_and_link_life(sk_env, tmp_path, driver):
    screen = _run_on_a_terminal(sk_env, tmp_path, {}, driver)
    assert ANSI.search(screen), "a terminal gets colour and cursor control"
    plain = ANSI.sub("", screen)
    assert re.search(r"0:0\d elapsed", plain) and re.search(r"link valid \d+:\d\d", plain)
    assert any(frame in plain for frame in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"), "a spinner frame"


def test_no_color_means_no_escape_codes_and_no_spinner(sk_env, tmp_path, driver):
    screen = _run_on_a_terminal(sk_env, tmp_path, {"NO_COLOR": "1"}, driver)
    assert not ANSI.search(screen), repr(screen[:300])
    assert "Waiting for u to authorize gmail" in screen  # plain progress lines instead
