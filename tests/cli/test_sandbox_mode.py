"""The installed `sk` with the embedded sandbox: `--sandbox`, `sk demo`, `sk sandbox serve`."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess

import httpx

from scalekit_cli.sandbox.hosted_form import approve_as_browser
from tests.cli.conftest import SK, assert_no_leak, assert_one_error_line


def test_version(sk_process):
    from scalekit_cli import __version__

    result = sk_process("--version")
    assert result.exit_code == 0 and result.stdout == f"sk {__version__}\n"


def test_demo_runs_the_whole_flow_unattended(sk_process, sk_env):
    result = sk_process("demo", env={"SCALEKIT_ENV_URL": "", "SCALEKIT_CLIENT_SECRET": ""})
    assert result.exit_code == 0, result.stderr
    assert "is connected for user_123 (ACTIVE)" in result.stderr
    assert "…[redacted]" in result.stdout  # the token, redacted
    assert "From\tSubject\tDate\tSnippet" in result.stdout
    assert '"messages"' in result.stdout  # gmail_fetch_mails' data
    assert result.stderr.splitlines()[-2] == f"  {SK} connect gmail --user user_123"
    # Runs again from scratch: the demo account is recreated.
    assert sk_process("demo").exit_code == 0


def test_the_commands_the_demo_prints_next_run_as_written(sk_process, sk_env):
    """After `make demo` the user copies what it printed: each line must work as it stands
    (the program as it was started, on the same sandbox), not exit 5 for want of --sandbox."""
    env = {"SCALEKIT_ENV_URL": "", "SCALEKIT_CLIENT_ID": "", "SCALEKIT_CLIENT_SECRET": ""}
    demo = sk_process("demo", env=env)
    assert demo.exit_code == 0, demo.stderr
    lines = demo.stderr.splitlines()
    steps = [line.split(". ", 1)[1] for line in lines if line[:3] in ("1. ", "2. ", "3. ", "4. ")]
    done_at = next(i for i, line in enumerate(lines) if line.startswith("Done."))
    next_steps = [line.strip() for line in lines[done_at:] if line.startswith(f"  {SK} --sandbox ")]
    assert len(steps) == 4 and len(next_steps) == 3, demo.stderr
    full = {**os.environ, **sk_env, **env}
    for command in [*steps[1:], *next_steps]:
        words = shlex.split(command)
        assert words[:2] == [str(SK), "--sandbox"], command
        if "connect" in words:  # it waits for the user: be the user
            process = subprocess.Popen(
                words, env=full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, cwd=sk_process.cwd,
            )  # fmt: skip
            approve_as_browser(process.stdout.readline().strip())
            _, err = process.communicate(timeout=30)
            assert process.returncode == 0, (command, err)
            continue
        if words[2] == "token" and "--debug" not in words:
            # Typed at a terminal it shows the redacted token (in a pipe it would refuse).
            import pty

            from tests.cli.conftest import read_terminal

            leader, follower = pty.openpty()
            process = subprocess.Popen(
                words, env=full, stdin=follower, stdout=follower, stderr=follower,
                cwd=sk_process.cwd,
            )  # fmt: skip
            os.close(follower)
            screen = read_terminal(leader, finished=lambda p=process: p.poll() is not None)
            os.close(leader)
            assert process.wait(timeout=30) == 0, (command, screen)
            assert b"[redacted]" in screen, screen
            continue
        done = subprocess.run(
            words, env=full, capture_output=True, text=True, timeout=60, cwd=sk_process.cwd
        )
        assert done.returncode == 0, (command, done.stderr)


def test_embedded_no_wait_is_refused_before_anything_is_created(sk_process):
    """The embedded sandbox's hosted page lives only while `connect` waits: a --no-wait link
    could never be opened, so none is made (and no account is created)."""
    env = {"SCALEKIT_ENV_URL": "", "SCALEKIT_CLIENT_ID": "", "SCALEKIT_CLIENT_SECRET": ""}
    refused = sk_process("--sandbox", "connect", "gmail", "--user", "later", "--no-wait", env=env)
    assert refused.exit_code == 2
    assert refused.stdout == ""
    assert refused.stderr.splitlines() == [
        "sk: the embedded sandbox serves its hosted page only while `sk --sandbox connect` "
        "waits: drop --no-wait, or run `sk sandbox serve` and use the settings it prints"
    ]
    status = sk_process("--sandbox", "status", "gmail", "--user", "later", env=env)
    assert status.exit_code == 3


def test_sandbox_flag_and_env_value_need_no_credentials(sk_process):
    env = {"SCALEKIT_ENV_URL": "", "SCALEKIT_CLIENT_ID": "", "SCALEKIT_CLIENT_SECRET": ""}
    assert sk_process("--sandbox", "status", "gmail", "--user", "fresh", env=env).exit_code == 3
    process = sk_process.popen(
        "--sandbox", "connect", "gmail", "--user", "fresh", "--interval", "0.1", env=env
    )
    link = process.stdout.readline().strip()
    assert link.startswith("http://127.0.0.1:")  # a real loopback server while connect waits
    approve_as_browser(link)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    # State persists across processes; SCALEKIT_ENV_URL=sandbox means the same.
    status = sk_process(
        "status", "gmail", "--user", "fresh", "--json", env={**env, "SCALEKIT_ENV_URL": "sandbox"}
    )
    assert status.exit_code == 0, status.stderr
    assert json.loads(status.stdout)["status"] == "ACTIVE"
    token = sk_process("--sandbox", "token", "gmail", "--user", "fresh", "--debug", env=env)
    assert token.exit_code == 0 and token.stdout.strip()
    # `sk sandbox force` drives the persisted state; `sk sandbox reset` empties it.
    assert (
        sk_process("sandbox", "force", "gmail", "--user", "fresh", "--status", "EXPIRED").exit_code
        == 0
    )
    assert sk_process("--sandbox", "token", "gmail", "--user", "fresh", env=env).exit_code == 3
    assert sk_process("sandbox", "reset", "--yes").exit_code == 0
    assert sk_process("--sandbox", "status", "gmail", "--user", "fresh", env=env).exit_code == 3


def test_sandbox_reset_asks_on_a_terminal_and_needs_yes_otherwise(sk_process):
    from tests.cli.test_disconnect import _on_a_terminal

    env = {"SCALEKIT_ENV_URL": "", "SCALEKIT_CLIENT_ID": "", "SCALEKIT_CLIENT_SECRET": ""}
    status = ("--sandbox", "status", "gmail", "--user", "user_123")
    assert sk_process("demo", env=env).exit_code == 0
    refused = sk_process("sandbox", "reset")  # stdin is not a terminal
    assert refused.exit_code == 2
    assert "without --yes" in assert_one_error_line(refused)
    kept = _on_a_terminal(sk_process, "sandbox", "reset", answer="n\n")
    assert kept.returncode == 1, kept.stderr
    assert "Empty the sandbox state in " in kept.stderr and "[y/N]" in kept.stderr
    assert sk_process(*status, env=env).exit_code == 0, "the state is left as it was"
    emptied = _on_a_terminal(sk_process, "sandbox", "reset", answer="y\n")
    assert emptied.returncode == 0, emptied.stderr
    assert sk_process(*status, env=env).exit_code == 3


def test_serve_prints_exports_and_stops_cleanly_on_ctrl_c(sk_env, tmp_path):
    process = subprocess.Popen(
        [str(SK), "sandbox", "serve", "--port", "0", "--memory"],
        env={**os.environ, **sk_env},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    exports = dict(
        process.stdout.readline().removeprefix("export ").strip().split("=", 1) for _ in range(4)
    )
    assert set(exports) == {
        "SCALEKIT_ENV_URL",
        "SCALEKIT_CLIENT_ID",
        "SCALEKIT_CLIENT_SECRET",
        "SK_GMAIL_API_URL",
    }
    url = exports["SCALEKIT_ENV_URL"]
    assert url.startswith("http://127.0.0.1:")
    answer = httpx.post(
        f"{url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": exports["SCALEKIT_CLIENT_ID"],
            "client_secret": exports["SCALEKIT_CLIENT_SECRET"],
        },
    )
    assert answer.status_code == 200
    # The printed settings drive `sk` as they are.
    result = subprocess.run(
        [str(SK), "connect", "gmail", "--user", "u", "--no-wait"],
        env={**os.environ, **sk_env, **exports},
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_serve_with_given_credentials_and_custom_verification(sk_env, tmp_path):
    process = subprocess.Popen(
        [
            str(SK),
            "sandbox",
            "serve",
            "--port",
            "0",
            "--memory",
            "--client-id",
            "skc_given",
            "--client-secret",
            "given-secret-canary-9Xa",
            "--user-verification",
            "custom",
        ],
        env={**os.environ, **sk_env},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(4)]
        assert "export SCALEKIT_CLIENT_ID=skc_given\n" in lines
        assert "export SCALEKIT_CLIENT_SECRET=given-secret-canary-9Xa\n" in lines
    finally:
        process.terminate()
        _, err = process.communicate(timeout=15)
    assert process.returncode == 0, err  # SIGTERM is a clean stop too
    assert "Traceback" not in err
    assert_no_leak(err, "given-secret-canary-9Xa")


def test_demo_json_is_one_document(sk_process):
    result = sk_process("demo", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"account", "link", "token", "unread", "tool"}
    assert document["account"]["status"] == "ACTIVE"
    assert document["token"]["access_token"].endswith("…[redacted]")
    assert len(document["unread"]) == 5 and document["tool"]["execution_id"]
