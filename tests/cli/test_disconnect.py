"""`sk disconnect`: asks on a terminal, refuses a script without --yes, deletes via `:delete`."""

from __future__ import annotations

import json
import os
import pty
import subprocess

import httpx
import pytest

from tests.cli.conftest import SK, assert_one_error_line

DELETE = "/api/v1/connected_accounts:delete"


def _deletes(sandbox) -> list[dict]:
    return [json.loads(r["body"]) for r in sandbox.requests() if r["path"] == DELETE]


def _exists(driver, connector: str, identifier: str) -> bool:
    try:
        driver.account(connector, identifier)
    except httpx.HTTPStatusError as error:
        assert error.response.status_code == 404
        return False
    return True


def _on_a_terminal(sk_process, *args: str, answer: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `sk` with a pseudo-terminal as its standard input, and type `answer`
    there; stdout and stderr stay pipes, so what it printed can be read."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(SK), *args],
            env=sk_process.env,
            cwd=sk_process.cwd,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.close(terminal)
        terminal = -1
        os.write(controller, answer.encode())
        out, err = process.communicate(timeout=30)
    finally:
        os.close(controller)
        if terminal != -1:
            os.close(terminal)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_yes_deletes_the_account(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    result = sk("disconnect", "gmail", "--user", "u", "--yes")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "disconnected the gmail account of 'u'" in result.stderr
    assert _deletes(sandbox) == [{"connector": "gmail", "identifier": "u"}]
    assert not _exists(driver, "gmail", "u")


def test_yes_json(sk, driver):
    driver.connect("gmail", "u")
    result = sk("disconnect", "gmail", "--user", "u", "-y", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"connector": "gmail", "identifier": "u", "deleted": True}


def test_without_a_terminal_it_refuses_before_any_request(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    result = sk("disconnect", "gmail", "--user", "u", input="y\n")
    assert result.exit_code == 2
    line = assert_one_error_line(result)
    assert "--yes" in line and "not a terminal" in line
    assert sandbox.requests() == []
    assert _exists(driver, "gmail", "u")


def test_no_account_is_exit_3(sk, sandbox):
    result = sk("disconnect", "slack", "--user", "nobody", "--yes")
    assert result.exit_code == 3
    assert "does not exist" in assert_one_error_line(result)


@pytest.mark.parametrize("answer", ["y\n", "YES\n"])
def test_on_a_terminal_it_asks_and_yes_deletes(sk_process, driver, sandbox, answer):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    done = _on_a_terminal(sk_process, "disconnect", "gmail", "--user", "u", answer=answer)
    assert done.returncode == 0, done.stderr
    # The question, on stderr, names the account and its status; stdout stays empty.
    assert "Disconnect the gmail account of 'u' (ACTIVE, ca_" in done.stderr
    assert "[y/N]" in done.stderr
    assert done.stdout == ""
    assert _deletes(sandbox) == [{"connector": "gmail", "identifier": "u"}]
    assert not _exists(driver, "gmail", "u")


@pytest.mark.parametrize("answer", ["n\n", "\n", "maybe\n"])
def test_on_a_terminal_anything_but_yes_keeps_it(sk_process, driver, sandbox, answer):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    done = _on_a_terminal(sk_process, "disconnect", "gmail", "--user", "u", answer=answer)
    assert done.returncode == 1
    # The typed answer's newline is echoed by the terminal, not into this stderr pipe.
    assert done.stderr.endswith(
        "[y/N] sk: not disconnected: the gmail account of 'u' is left as it was\n"
    )
    assert _deletes(sandbox) == []
    assert _exists(driver, "gmail", "u")


def test_on_a_terminal_a_missing_account_is_exit_3_without_asking(sk_process, sandbox):
    done = _on_a_terminal(sk_process, "disconnect", "gmail", "--user", "ghost", answer="y\n")
    assert done.returncode == 3
    assert "[y/N]" not in done.stderr
    assert _deletes(sandbox) == []
