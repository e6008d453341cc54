"""On a terminal: a spinner with elapsed time and the link's life; NO_COLOR turns it off."""

from __future__ import annotations

import os
import pty
import re
import subprocess

from scalekit_cli.sandbox.hosted_form import approve_as_browser
from tests.cli.conftest import SK, read_terminal

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
    approved = False

    def approve_once_linked(screen: bytes) -> None:
        nonlocal approved
        found = LINK.search(screen.decode("utf-8", "replace"))
        if not approved and found and driver.polls() >= 6:
            approve_as_browser(found.group(0))
            approved = True

    screen = read_terminal(leader, approve_once_linked, finished=lambda: process.poll() is not None)
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


def test_after_a_deny_enter_on_a_terminal_prints_a_new_link(sk_env, tmp_path, driver):
    leader, follower = pty.openpty()
    env = {**os.environ, **sk_env, "TERM": "xterm-256color", "COLUMNS": "200"}
    process = subprocess.Popen(
        [str(SK), "connect", "gmail", "--user", "u", "--interval", "0.2", "--timeout", "30"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=tmp_path,
    )
    os.close(follower)
    pressed: list[str] = []

    def play_the_user(screen: bytes) -> None:
        text = ANSI.sub("", screen.decode("utf-8", "replace"))
        links = LINK.findall(text)
        if not pressed and links:
            approve_as_browser(links[0], press="Deny")
            pressed.append("deny")
        elif pressed == ["deny"] and "Press Enter for a new link" in text:
            os.write(leader, b"\r")
            pressed.append("enter")
        elif pressed == ["deny", "enter"] and len(set(links)) == 2:
            approve_as_browser(links[-1])
            pressed.append("allow")

    screen = read_terminal(leader, play_the_user, finished=lambda: process.poll() is not None)
    process.wait(timeout=10)
    os.close(leader)
    text = ANSI.sub("", screen.decode("utf-8", "replace"))
    assert process.returncode == 0, text
    assert pressed == ["deny", "enter", "allow"], text
    assert "u did not authorize gmail: the authorization was denied" in text
    assert "gmail is connected for u (ACTIVE)" in text
