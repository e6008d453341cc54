"""`sk run CONNECTOR --user ID -- COMMAND`: the fresh token in the child's environment, never
printed; signals forwarded; the child's exit code passed through.

The child is a small Python program that reports only whether each variable is set and its
SHA-256, so the test can compare with the sandbox's token without any token being printed.
"""

from __future__ import annotations

import hashlib
import os
import pty
import signal
import sys

import pytest

from tests.cli.conftest import SK, assert_no_leak, assert_one_error_line, read_terminal
from tests.conftest import CANARY_CLIENT_SECRET

REPORT = """
import hashlib, os, sys
for name in sys.argv[1:-1]:
    value = os.environ.get(name)
    digest = hashlib.sha256(value.encode()).hexdigest() if value else "-"
    print(name, "set" if value else "unset", digest)
sys.exit(int(sys.argv[-1]))
"""

# Waits for a signal; reports it and exits with 40 + its number. SIGTERM is left at its
# default when asked, to see a child killed by a signal.
WAIT_FOR_SIGNAL = """
import signal, sys, time
def report(signum, frame):
    print("got", signum, flush=True)
    sys.exit(40 + signum)
signal.signal(signal.SIGINT, report)
if sys.argv[1] == "handle":
    signal.signal(signal.SIGTERM, report)
print("ready", flush=True)
time.sleep(30)
sys.exit(99)
"""


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _report(stdout: str) -> dict[str, tuple[str, str]]:
    return {line.split()[0]: tuple(line.split()[1:]) for line in stdout.splitlines() if line}


def test_child_gets_fresh_tokens_in_its_environment_and_its_exit_code_is_kept(sk_process, driver):
    driver.connect("gmail", "u")
    result = sk_process(
        "run", "gmail", "--user", "u", "--",
        sys.executable, "-c", REPORT, "SCALEKIT_ACCESS_TOKEN", "SCALEKIT_REFRESH_TOKEN", "7",
    )  # fmt: skip
    assert result.exit_code == 7, result.stderr
    tokens = driver.tokens("gmail", "u")
    report = _report(result.stdout)
    assert report["SCALEKIT_ACCESS_TOKEN"] == ("set", _sha(tokens["access_token"]))
    assert report["SCALEKIT_REFRESH_TOKEN"] == ("set", _sha(tokens["refresh_token"]))
    assert_no_leak(result, tokens["access_token"], tokens["refresh_token"], CANARY_CLIENT_SECRET)
    assert result.stderr == ""  # sk itself prints nothing on success


def test_token_variable_can_be_renamed_and_the_parent_environment_is_kept(sk_process, driver):
    driver.connect("gmail", "u")
    result = sk_process(
        "run", "gmail", "--user", "u", "--env", "GMAIL_TOKEN", "--",
        sys.executable, "-c", REPORT, "GMAIL_TOKEN", "SCALEKIT_ACCESS_TOKEN", "KEPT", "0",
        env={"KEPT": "from-the-parent"},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = _report(result.stdout)
    assert report["GMAIL_TOKEN"] == ("set", _sha(driver.tokens("gmail", "u")["access_token"]))
    assert report["SCALEKIT_ACCESS_TOKEN"][0] == "unset"
    assert report["KEPT"] == ("set", _sha("from-the-parent"))


def test_api_key_accounts_hand_over_their_key(sk_process, driver):
    account = driver.connect("exa", "u", fill={"api_key": "secret_canary_exa_Kx81"})
    assert account["status"] == "ACTIVE"
    result = sk_process(
        "run", "exa", "--user", "u", "--",
        sys.executable, "-c", REPORT, "SCALEKIT_ACCESS_TOKEN", "SCALEKIT_REFRESH_TOKEN", "0",
        env={"SCALEKIT_REFRESH_TOKEN": "stale-from-parent"},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = _report(result.stdout)
    assert report["SCALEKIT_ACCESS_TOKEN"] == ("set", _sha("secret_canary_exa_Kx81"))
    # No refresh token: an inherited one would pair with the wrong credential.
    assert report["SCALEKIT_REFRESH_TOKEN"][0] == "unset"
    assert_no_leak(result, "secret_canary_exa_Kx81")


def test_not_connected_is_exit_3_and_the_command_never_runs(sk, driver, tmp_path):
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').close()"
    missing = sk("run", "gmail", "--user", "nobody", "--", sys.executable, "-c", code)
    assert missing.exit_code == 3
    assert "sk connect gmail --user nobody" in assert_one_error_line(missing)
    driver.connect("gmail", "u")
    driver.force("gmail", "u", "EXPIRED")
    expired = sk("run", "gmail", "--user", "u", "--", sys.executable, "-c", code)
    assert expired.exit_code == 3
    assert "EXPIRED" in assert_one_error_line(expired)
    assert not marker.exists()


def test_usage_errors(sk, driver):
    driver.connect("gmail", "u")
    no_command = sk("run", "gmail", "--user", "u")
    assert no_command.exit_code == 2
    assert "after --" in assert_one_error_line(no_command)
    bad_name = sk("run", "gmail", "--user", "u", "--env", "NOT-A-NAME", "--", "true")
    assert bad_name.exit_code == 2
    assert "--env" in assert_one_error_line(bad_name)
    absent = sk("run", "gmail", "--user", "u", "--", "no-such-command-for-sk-run")
    assert absent.exit_code == 127
    assert "command not found" in assert_one_error_line(absent)


@pytest.mark.parametrize(
    ("sent", "mode", "expected"),
    [
        (signal.SIGTERM, "handle", 40 + signal.SIGTERM),
        (signal.SIGINT, "handle", 40 + signal.SIGINT),
        (signal.SIGHUP, "handle", 128 + signal.SIGHUP),  # SIGHUP left at its default: killed
        (signal.SIGTERM, "default", 128 + signal.SIGTERM),
    ],
    ids=["term-handled", "int-handled", "hup-kills", "term-kills"],
)
def test_signals_are_forwarded_and_the_exit_code_follows_the_child(
    sk_process, driver, sent, mode, expected
):
    driver.connect("gmail", "u")
    process = sk_process.popen(
        "run", "gmail", "--user", "u", "--", sys.executable, "-c", WAIT_FOR_SIGNAL, mode
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        process.send_signal(sent)  # to sk, not to the child
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == expected, stderr
    if expected < 128:
        assert stdout.strip() == f"got {int(sent)}"
    assert "Traceback" not in stderr


def test_run_reads_the_token_once_immediately_before_starting(sk_process, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    result = sk_process("run", "gmail", "--user", "u", "--", sys.executable, "-c", "pass")
    assert result.exit_code == 0, result.stderr
    paths = [r["path"] for r in sandbox.requests()]
    assert paths.count("/api/v1/connected_accounts/auth") == 1


# Waits for a SIGINT, then takes its time to finish (sk must wait for it) and exits 5.
COUNT_INTERRUPTS = """
import signal, sys, time
count = 0
def interrupted(signum, frame):
    global count
    count += 1
signal.signal(signal.SIGINT, interrupted)
print("ready", flush=True)
while count == 0:
    time.sleep(0.01)
time.sleep(1)
print("interrupts", count, flush=True)
sys.exit(5)
"""


def test_ctrl_c_on_the_terminal_lets_the_child_finish_and_keeps_its_exit_code(
    sk_env, driver, tmp_path
):
    """On a terminal, Ctrl-C goes to sk and the child alike: sk outlives it, waits for the
    child's own handling, and exits with the child's code (not 130)."""
    driver.connect("gmail", "u")
    env = {**os.environ, **sk_env, "NO_COLOR": "1"}
    argv = [str(SK), "run", "gmail", "--user", "u", "--", sys.executable, "-c", COUNT_INTERRUPTS]
    pid, leader = pty.fork()
    if pid == 0:  # the child: sk in the foreground of a new terminal
        os.chdir(tmp_path)
        os.execve(str(SK), argv, env)
    pressed = False

    def press_ctrl_c_when_ready(screen: bytes) -> None:
        nonlocal pressed
        if not pressed and b"ready" in screen:
            os.write(leader, b"\x03")  # Ctrl-C, as typed
            pressed = True

    screen = read_terminal(leader, press_ctrl_c_when_ready)
    _, status = os.waitpid(pid, 0)
    os.close(leader)
    text = screen.decode("utf-8", "replace")
    assert "interrupts" in text, text
    assert "Traceback" not in text and "sk: interrupted" not in text
    assert os.waitstatus_to_exitcode(status) == 5, text
