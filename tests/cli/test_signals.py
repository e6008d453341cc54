"""SIGTERM and SIGHUP end `sk` with one `sk: terminated` line and 128 + N, like Ctrl-C ends it
with `sk: interrupted` and 130: the installed console script, in a process of its own."""

from __future__ import annotations

import signal

import pytest

from tests.cli.conftest import SK, assert_no_leak
from tests.conftest import CANARY_CLIENT_SECRET


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_waiting_connect_ends_with_one_line_and_128_plus_n(signum, sk_process, driver):
    process = sk_process.popen(
        "connect", "gmail", "--user", "u", "--interval", "0.2", "--timeout", "60"
    )
    try:
        driver.wait_for_polls(2)  # it is waiting for the user to authorize
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signum, stderr
    assert stderr.splitlines()[-1] == "sk: terminated"
    assert "Traceback" not in stderr
    assert "/magic/" in stdout  # what it printed before stays printed
    assert_no_leak(stdout + stderr, CANARY_CLIENT_SECRET)


def test_the_exit_codes_are_documented():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "docs" / "commands.md").read_text(encoding="utf-8")
    assert "| 129 | hung up (SIGHUP): `sk: terminated` |" in readme
    assert "| 143 | terminated (SIGTERM): `sk: terminated` |" in readme


def _piped_into_a_closed_reader(sk_process, *args: str) -> tuple[int, str]:
    """Run `sk ARGS | head -1` without the shell, its reader gone before sk writes: every
    write of sk's meets a closed pipe."""
    import os
    import subprocess

    reader, writer = os.pipe()
    process = subprocess.Popen(
        [str(SK), *args],
        env=sk_process.env,
        cwd=sk_process.cwd,
        stdin=subprocess.DEVNULL,
        stdout=writer,
        stderr=subprocess.PIPE,
    )
    os.close(writer)
    os.close(reader)  # the reader goes away, as `head -1` does after its line
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr.decode("utf-8", "replace")


@pytest.mark.parametrize(
    "args",
    [("--help",), ("completion", "zsh"), ("help", "connect")],
    ids=" ".join,
)
def test_a_closed_stdout_ends_sk_without_a_traceback(sk_process, args):
    code, stderr = _piped_into_a_closed_reader(sk_process, *args)
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert code == 1 and stderr == "", (code, stderr)


def test_the_process_ends_through_the_interpreter():
    """No os._exit and no collector tuning in the console script: it returns its code, and
    Python's own shutdown (atexit handlers, buffered files) runs."""
    from pathlib import Path

    source = (Path(__file__).parents[2] / "scalekit_cli" / "cli" / "main.py").read_text()
    for banned in ("os._exit", "gc.set_threshold", "gc.freeze"):
        assert banned not in source
