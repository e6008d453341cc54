"""`sk connect` waits through an outage: a real `sk sandbox serve` killed mid-wait and started
again on the same port and state file; the approval that follows still ends the wait with 0."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

from scalekit_cli.sandbox.hosted_form import approve_as_browser
from tests.cli.conftest import SK, read_terminal
from tests.conftest import CANARY_CLIENT_ID, CANARY_CLIENT_SECRET
from tests.reliability.harness import closed_port


def _environment(tmp_path: Path) -> dict[str, str]:
    """The test's own environment for both processes, without a developer's settings."""
    base = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SCALEKIT_", "SK_")) and name not in ("NO_COLOR", "GITHUB_ACTIONS")
    }
    # Quick retries inside each poll, so that the outage surfaces to the wait itself.
    base.update(
        SK_DATA_DIR=str(tmp_path / "data"),
        SK_CACHE_DIR=str(tmp_path / "cache"),
        SK_RETRY_BACKOFF="0.01",
    )
    return base


def _credentials(url: str) -> dict[str, str]:
    return {
        "SCALEKIT_ENV_URL": url,
        "SCALEKIT_CLIENT_ID": CANARY_CLIENT_ID,
        "SCALEKIT_CLIENT_SECRET": CANARY_CLIENT_SECRET,
    }


def _serve(port: int, state: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            str(SK),
            "sandbox",
            "serve",
            "--port",
            str(port),
            "--state",
            str(state),
            "--client-id",
            CANARY_CLIENT_ID,
            "--client-secret",
            CANARY_CLIENT_SECRET,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    first = process.stdout.readline()  # the first `export …` line: it is listening
    assert first.startswith("export SCALEKIT_ENV_URL="), first
    return process


def _stop(process: subprocess.Popen[str], signum: int = signal.SIGKILL) -> None:
    if process.poll() is None:
        process.send_signal(signum)
    process.communicate(timeout=20)


def test_connect_survives_the_server_going_away_and_coming_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = _environment(tmp_path)
    port, state = closed_port(), tmp_path / "state.sqlite3"
    url = f"http://127.0.0.1:{port}"
    server = _serve(port, state, base)
    connect = subprocess.Popen(
        [str(SK), "connect", "gmail", "--user", "u", "--interval", "0.2", "--timeout", "60"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={
            **base,
            **_credentials(url),
        },
    )
    try:
        assert connect.stdout is not None
        link = connect.stdout.readline().strip()
        assert link.startswith(f"{url}/magic/"), link
        time.sleep(0.5)  # a few polls answered
        _stop(server)
        time.sleep(3)  # polls refused: a shorter outage than --timeout must not end the wait
        assert connect.poll() is None, connect.communicate()
        server = _serve(port, state, base)
        approve_as_browser(link)
        out, errors = connect.communicate(timeout=30)
    finally:
        if connect.poll() is None:
            connect.kill()
        _stop(server, signal.SIGTERM)
    assert connect.returncode == 0, errors
    assert "Scalekit unreachable, retrying until --timeout" in errors
    assert "Scalekit answers again" in errors
    assert "gmail is connected for u (ACTIVE)" in errors
    assert "Traceback" not in errors
    assert CANARY_CLIENT_SECRET not in out + errors


def test_an_outage_longer_than_the_timeout_is_exit_4(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = _environment(tmp_path)
    port = closed_port()
    server = _serve(port, tmp_path / "state.sqlite3", base)
    connect = subprocess.Popen(
        [str(SK), "connect", "gmail", "--user", "u", "--interval", "0.2", "--timeout", "4"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={
            **base,
            **_credentials(f"http://127.0.0.1:{port}"),
        },
    )
    try:
        assert connect.stdout is not None
        assert "/magic/" in connect.stdout.readline()
        _stop(server)
        _, errors = connect.communicate(timeout=60)
    finally:
        if connect.poll() is None:
            connect.kill()
    assert connect.returncode == 4, errors
    last = errors.strip().splitlines()[-1]
    assert last.startswith("sk: timed out after 4 s")
    assert "the last check failed: cannot reach" in last


def test_on_a_terminal_the_spinner_says_scalekit_is_unreachable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = _environment(tmp_path)
    port, state = closed_port(), tmp_path / "state.sqlite3"
    url = f"http://127.0.0.1:{port}"
    server = _serve(port, state, base)
    leader, follower = pty.openpty()
    connect = subprocess.Popen(
        [str(SK), "connect", "gmail", "--user", "u", "--interval", "0.2", "--timeout", "60"],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        cwd=tmp_path,
        env={
            **base,
            "TERM": "xterm-256color",
            "COLUMNS": "200",
            **_credentials(url),
        },
    )
    os.close(follower)
    screen: list[bytes] = []
    links: list[str] = []
    link_shown = threading.Event()

    def watch(seen: bytes) -> None:
        found = re.search(
            rf"{re.escape(url)}/magic/[A-Za-z0-9_-]+", seen.decode("utf-8", "replace")
        )
        if found and not links:
            links.append(found.group(0))
            link_shown.set()

    reader = threading.Thread(
        target=lambda: screen.append(
            read_terminal(leader, watch, finished=lambda: connect.poll() is not None, timeout=90)
        ),
        daemon=True,
    )
    reader.start()
    try:
        assert link_shown.wait(30), "no link was shown"
        _stop(server)
        time.sleep(3)
        assert connect.poll() is None
        server = _serve(port, state, base)
        approve_as_browser(links[0])
        connect.wait(timeout=30)
        reader.join(timeout=30)
    finally:
        if connect.poll() is None:
            connect.kill()
        _stop(server, signal.SIGTERM)
        os.close(leader)
    text = b"".join(screen).decode("utf-8", "replace")
    assert connect.returncode == 0, text[-2000:]
    assert "Scalekit unreachable, retrying" in text


def test_a_server_that_stops_answering_cannot_hold_the_wait_past_timeout(sandbox, sk_process):
    """Accepted and never answered: each poll waits at most until --timeout, not for a whole
    SK_HTTP_TIMEOUT (10 s here), and no retry starts after it."""
    connect = sk_process.popen(
        "connect", "gmail", "--user", "u", "--interval", "0.2", "--timeout", "3"
    )
    try:
        assert connect.stdout is not None
        assert "/magic/" in connect.stdout.readline()
        started = time.monotonic()
        # From now on every poll is held for 8 s: the sandbox accepts and does not answer.
        sandbox.fault(path="/api/v1/connected_accounts/details", kind="latency", latency_ms=8000)
        _, errors = connect.communicate(timeout=30)
        waited = time.monotonic() - started
    finally:
        if connect.poll() is None:
            connect.kill()
    assert connect.returncode == 4, errors
    assert waited < 5, f"the wait ended {waited:.1f} s after the link, --timeout is 3 s"
    last = errors.strip().splitlines()[-1]
    assert last.startswith("sk: timed out after 3 s"), last
    assert "no answer before the command's time limit" in last
