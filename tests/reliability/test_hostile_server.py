"""The hostile-server harness: the sandbox's `mutate` faults plant control sequences, bidi
characters and forged lines in every string of an answer, or answer with the wrong shape,
nesting past any stack, an oversized body or an error whose message is the attack. Every
command of the fault matrix runs through each, in a pipe and on a pseudo-terminal: no raw
control or bidi character reaches stdout or stderr, a failure is one `sk:` line, the exit code
is a documented one, never a traceback."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess

import pytest

from scalekit_cli.sandbox.faults import HOSTILE_TEXT
from tests.cli.conftest import SK, SkResult, read_terminal
from tests.conftest import CANARY_CLIENT_ID, CANARY_CLIENT_SECRET, LiveSandbox
from tests.reliability.harness import Setup, SkRunner
from tests.reliability.matrix import ACCOUNTS, AUTH, DETAILS, MAGIC_LINK, ROWS, Row

ACTIVE = "hostile-active@example.com"
PENDING = "hostile-pending@example.com"
# What a terminal would obey: C0 but tab and newline, DEL, C1, bidi overrides and isolates.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# The sequences of sk's own styling on a terminal (rich's colours and cursor control).
OWN_STYLING = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")
# One body that is an error in every shape the CLI reads: the gateway's, Google's, OAuth's.
ERROR_BODY = {
    "code": 3,
    "message": HOSTILE_TEXT,
    "details": [],
    "error": {"code": 400, "message": HOSTILE_TEXT, "status": "INVALID_ARGUMENT"},
    "error_description": HOSTILE_TEXT,
}
# A well-formed 200 of the wrong shape for every endpoint's reader.
WRONG_SHAPE = {
    "connected_account": "x",
    "connected_accounts": "x",
    "link": 5,
    "tools": "x",
    "connections": "x",
    "data": "x",
    "messages": "x",
    "payload": "x",
    "access_token": 5,
}
MUTATIONS = {
    "strings": {"mutation": "strings"},
    "shown-strings": {
        "mutation": "strings",
        # What the CLI shows, leaving statuses, tokens and links intact so commands go on.
        "keys": ["identifier", "id", "name", "description", "value", "snippet", "updated_at"],
    },
    "error-message": {"mutation": "replace", "status": 400, "body": ERROR_BODY},
    "wrong-shape": {"mutation": "replace", "body": WRONG_SHAPE},
    "deep": {"mutation": "deep", "depth": 100_000},
    "oversized": {"mutation": "oversized", "size": 3_000_000},
}
# 2: `tools show` of a name the (mutated) catalogue lacks; 5: credentials refused.
DOCUMENTED_EXIT_CODES = {0, 1, 2, 3, 5}
# Requests whose documented answer is empty: any object is the right shape.
ANY_OBJECT = {"disconnect"}
ON_A_TERMINAL = ("strings", "shown-strings", "error-message")


@pytest.fixture(scope="module")
def accounts(setup: Setup) -> None:
    setup.connect("gmail", ACTIVE)
    setup.create("gmail", PENDING)


def _identifier(row: Row, mutation: str, setup: Setup) -> str:
    own = f"hostile-{row.key}-{mutation}"
    if row.account == "none":
        return own
    if row.key == "disconnect":
        setup.create("gmail", own)
        return own
    return ACTIVE if row.account == "active" else PENDING


def _args(row: Row, identifier: str, sandbox: LiveSandbox) -> tuple[list[str], str | None]:
    values = {
        "{user}": identifier,
        "{env}": sandbox.url,
        "{client_id}": CANARY_CLIENT_ID,
        "{client_secret}": CANARY_CLIENT_SECRET,
    }

    def fill(text: str) -> str:
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    return [fill(arg) for arg in row.args], fill(row.stdin) if row.stdin else None


def _assert_clean(text: str, where: str) -> None:
    found = RAW_CONTROL.search(text)
    assert found is None, f"raw U+{ord(found.group(0)):04X} in {where}: {text[-600:]!r}"
    assert not any(line.startswith("sk: all good") for line in text.splitlines()), where


def _assert_one_failure_line(result: SkResult, where: str) -> None:
    lines = result.stderr.splitlines()
    failures = [line for line in lines if line.startswith("sk:")]
    if result.exit_code == 0:
        assert failures == [], where
    else:
        # Exit 3 too: its `sk connect` hint is the one `sk:` line, and the last.
        assert len(failures) == 1 and lines[-1] == failures[0], f"{where}: {lines[-5:]}"
        if result.exit_code == 3:
            assert "sk connect" in failures[0] or "did you mean" in failures[0], where


def _keyring(row: Row, tmp_path) -> dict[str, str]:
    if not row.keyring:
        return {}
    return {
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
    }


# `--json` is taken by every command but `sk run` (whose stdout is its child's).
CASES = [
    (row, name, json_mode)
    for row in ROWS
    for name in MUTATIONS
    for json_mode in ((False, True) if row.key != "run" else (False,))
]


@pytest.mark.parametrize(
    ("row", "mutation", "json_mode"),
    CASES,
    ids=[f"{r.key}-{m}{'-json' if j else ''}" for r, m, j in CASES],
)
def test_in_a_pipe(
    row, mutation, json_mode, runner: SkRunner, setup, shared_sandbox, accounts, tmp_path
):
    identifier = _identifier(row, f"{mutation}{'-json' if json_mode else ''}", setup)
    args, stdin = _args(row, identifier, shared_sandbox)
    if json_mode:
        args.append("--json")
    env = {**_keyring(row, tmp_path), "SK_CACHE_DIR": str(tmp_path / "cache")}
    shared_sandbox.fault(path=row.path, method=row.method, kind="mutate", **MUTATIONS[mutation])
    try:
        result = runner(*args, env=env, input=stdin)
    finally:
        shared_sandbox.admin("DELETE", "/_sandbox/faults")
    where = f"{row.key} × {mutation}: exit {result.exit_code}\n{result.stderr[-800:]}"
    assert "Traceback" not in result.streams, where
    assert result.exit_code in DOCUMENTED_EXIT_CODES, where
    if json_mode and result.stdout.strip():
        json.loads(result.stdout)  # still valid JSON, whatever the server put in it
    if row.raw_body and not json_mode:
        # `sk request` in a pipe hands the body on exactly as it came (README); on a
        # terminal it is neutralised like any server text (test_on_a_terminal).
        if mutation == "strings" and result.exit_code == 0:
            email = json.loads(result.stdout)["emailAddress"]
            assert email.startswith("hostile-active@example.com"), where
            # The same text was planted in the account's tokens too, so pieces of it may be
            # scrubbed as pieces of a secret; whatever is left passed exactly as it came.
            planted = email.removeprefix("hostile-active@example.com")
            kept = [piece for piece in planted.split("…[redacted]") if piece]
            assert kept and all(piece in HOSTILE_TEXT for piece in kept), where
            assert planted == HOSTILE_TEXT or "…[redacted]" in planted, where
    else:
        _assert_clean(result.stdout, f"stdout of {where}")
    _assert_clean(result.stderr, f"stderr of {where}")
    _assert_one_failure_line(result, where)
    shaped = not (row.raw_body or row.optional or row.key in ANY_OBJECT)
    if mutation in ("wrong-shape", "deep") and shaped:
        # A broken answer is an API failure, never "not found" (exit 3) nor success.
        assert result.exit_code == 1, where
        assert "unexpected answer from" in result.stderr or "not JSON" in result.stderr, where
    if mutation == "wrong-shape" and row.path in (DETAILS, AUTH, ACCOUNTS, MAGIC_LINK):
        assert "unexpected answer from 127.0.0.1" in result.stderr.splitlines()[-1], where


TERMINAL_CASES = [(row, name) for row in ROWS for name in ON_A_TERMINAL]


@pytest.mark.parametrize(
    ("row", "mutation"), TERMINAL_CASES, ids=[f"{r.key}-{m}" for r, m in TERMINAL_CASES]
)
def test_on_a_terminal(row, mutation, runner: SkRunner, setup, shared_sandbox, accounts, tmp_path):
    identifier = _identifier(row, f"tty-{mutation}", setup)
    args, stdin = _args(row, identifier, shared_sandbox)
    env = {
        **os.environ,
        **runner.env(**_keyring(row, tmp_path), SK_CACHE_DIR=str(tmp_path / "cache")),
        "TERM": "xterm-256color",
        "COLUMNS": "200",
    }
    env.pop("NO_COLOR", None)
    shared_sandbox.fault(path=row.path, method=row.method, kind="mutate", **MUTATIONS[mutation])
    leader, follower = pty.openpty()
    try:
        # A secret read from stdin comes from a pipe (as `--client-secret-stdin` is used).
        process = subprocess.Popen(
            [str(SK), *args],
            stdin=subprocess.PIPE if stdin else follower,
            stdout=follower,
            stderr=follower,
            env=env,
            cwd=tmp_path,
        )
        os.close(follower)
        if stdin and process.stdin is not None:
            process.stdin.write(stdin.encode())
            process.stdin.close()
        screen = read_terminal(leader, finished=lambda: process.poll() is not None)
        process.wait(timeout=30)
    finally:
        os.close(leader)
        shared_sandbox.admin("DELETE", "/_sandbox/faults")
    text = screen.decode("utf-8", "replace")
    where = f"{row.key} × {mutation} on a terminal: exit {process.returncode}\n{text[-800:]!r}"
    assert "Traceback" not in text, where
    assert process.returncode in DOCUMENTED_EXIT_CODES, where
    # Everything but sk's own styling: nothing a server sent may be obeyed.
    _assert_clean(OWN_STYLING.sub("", text), where)
    assert "\x1b]0;PWNED" not in text and "\x1b[2J" not in text, where
    lines = OWN_STYLING.sub("", text).strip("\n").split("\n")
    failures = [line for line in lines if line.startswith("sk:")]
    if process.returncode:
        assert len(failures) == 1 and lines[-1] == failures[0], where


@pytest.mark.parametrize("no_color", [False, True], ids=["spinner", "progress-lines"])
def test_the_wait_shows_a_hostile_status_inert(
    no_color, runner: SkRunner, shared_sandbox, tmp_path
):
    """`sk connect` waiting: the status the server reports goes into the spinner (or the plain
    progress lines) and the final timeout line; neither obeys it."""
    env = {
        **os.environ,
        **runner.env(SK_CACHE_DIR=str(tmp_path / "cache")),
        "TERM": "xterm-256color",
        "COLUMNS": "200",
    }
    env.pop("NO_COLOR", None)
    if no_color:
        env["NO_COLOR"] = "1"
    shared_sandbox.fault(path=DETAILS, method="GET", kind="mutate", mutation="strings")
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(SK), "connect", "gmail", "--user", f"hostile-wait-{no_color}", "--timeout", "2"],
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=follower,
            env=env,
            cwd=tmp_path,
        )
        os.close(follower)
        screen = read_terminal(leader, finished=lambda: process.poll() is not None)
        process.wait(timeout=30)
    finally:
        os.close(leader)
        shared_sandbox.admin("DELETE", "/_sandbox/faults")
    text = screen.decode("utf-8", "replace")
    assert process.returncode == 4, text[-800:]
    assert "PWNED" in text  # the status was shown, as text
    _assert_clean(OWN_STYLING.sub("", text), "the wait")
    lines = OWN_STYLING.sub("", text).strip("\n").split("\n")
    assert [line for line in lines if line.startswith("sk:")] == [lines[-1]]
