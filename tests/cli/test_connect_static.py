"""`sk connect --credentials-stdin`: API-key connections set up without a browser — created with
static credentials or updated, confirmed ACTIVE, OAuth refused, secrets never shown."""

from __future__ import annotations

import json
import os
import pty

import pytest

from scalekit_cli.sandbox.faults import redacted_marker
from tests.cli.conftest import SK, assert_no_leak, assert_one_error_line, read_terminal

# A canary API key: it must reach the sandbox, and never any captured output.
API_KEY = "exa-canary-3f9c1d7e5b2a48c6"
ACCOUNTS = "/api/v1/connected_accounts"


def _paths(sandbox) -> list[str]:
    return [r["path"] for r in sandbox.requests()]


def test_creates_an_api_key_account_without_the_hosted_page(sk, sandbox, driver):
    sandbox.clear_requests()
    result = sk(
        "connect",
        "exa",
        "--user",
        "ci_bot",
        "--credentials-stdin",
        "--field",
        "region=eu",
        "-v",
        input=json.dumps({"api_key": API_KEY}),
    )
    assert result.exit_code == 0, result.stderr
    assert "exa is connected for ci_bot (ACTIVE" in result.stderr
    assert result.stdout == ""
    # Read, create empty on 404 (to learn the type), store the credentials, then confirm from
    # /details; no link at all.
    methods = [(r["method"], r["path"]) for r in sandbox.requests()]
    assert methods[-4:] == [
        ("GET", f"{ACCOUNTS}/details"),
        ("POST", ACCOUNTS),
        ("PUT", ACCOUNTS),
        ("GET", f"{ACCOUNTS}/details"),
    ]
    assert not any("magic" in path for path in _paths(sandbox))
    stored = driver.account("exa", "ci_bot", credentials=True)
    assert stored["status"] == "ACTIVE"
    assert stored["authorization_details"] == {
        "static_auth": {"details": {"api_key": API_KEY, "region": "eu"}}
    }
    # The -v trace showed the exchanges, with the key redacted.
    assert f"* PUT {sandbox.url}{ACCOUNTS} → 200" in result.stderr
    assert f'"api_key": "{API_KEY[:4]}…[redacted]"' in result.stderr
    assert_no_leak(result, API_KEY)


def test_an_existing_account_is_updated_and_json_is_the_account(sk, sandbox, driver):
    driver.api(
        "POST",
        ACCOUNTS,
        json={"connector": "exa", "identifier": "u", "connected_account": {}},
    )
    assert driver.account("exa", "u")["status"] == "PENDING_AUTH"
    sandbox.clear_requests()
    result = sk(
        "connect", "exa", "--user", "u", "--credentials-stdin", "--json",
        input=json.dumps({"api_key": API_KEY}),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "ACTIVE"
    assert document["connector"] == "exa" and document["identifier"] == "u"
    assert document["authorization_type"] == "API_KEY"
    assert [(r["method"], r["path"]) for r in sandbox.requests()][-3:] == [
        ("GET", f"{ACCOUNTS}/details"),
        ("PUT", ACCOUNTS),
        ("GET", f"{ACCOUNTS}/details"),
    ]
    stored = driver.account("exa", "u", credentials=True)
    assert stored["authorization_details"]["static_auth"]["details"] == {"api_key": API_KEY}
    assert_no_leak(result, API_KEY)


def test_an_oauth_connector_is_refused_with_exit_2(sk, sandbox, driver):
    sandbox.clear_requests()
    result = sk(
        "connect", "gmail", "--user", "u", "--credentials-stdin",
        input=json.dumps({"api_key": API_KEY}),
    )  # fmt: skip
    assert result.exit_code == 2
    line = assert_one_error_line(result)
    assert "gmail uses OAUTH authorization" in line and "sk connect gmail --user u" in line
    assert not any("magic" in path for path in _paths(sandbox))
    # The account made to learn the type is gone again: no credentials stay on gmail.
    listed = driver.api("GET", ACCOUNTS, params={"connector": "gmail"}).json()
    assert listed.get("connected_accounts", []) == []
    assert_no_leak(result, API_KEY)


def _carried_the_key(sandbox) -> list[str]:
    """The logged requests that carried API_KEY, raw or as the log's fingerprint of it."""
    marks = (API_KEY, redacted_marker(API_KEY))
    return [
        f"{r['method']} {r['path']}"
        for r in sandbox.requests()
        if any(mark in json.dumps(r, ensure_ascii=False) for mark in marks)
    ]


def test_the_key_never_leaves_sk_for_an_oauth_connector(sk, sandbox, driver):
    """The account is created empty to learn its type; the key is sent only to a static one."""
    sandbox.clear_requests()
    result = sk(
        "connect", "gmail", "--user", "u", "--credentials-stdin",
        input=json.dumps({"api_key": API_KEY}),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "gmail uses OAUTH authorization" in assert_one_error_line(result)
    assert [r["method"] for r in sandbox.requests() if r["path"].startswith(ACCOUNTS)] == [
        "GET",
        "POST",
        "POST",  # :delete
    ]
    assert _carried_the_key(sandbox) == []
    # The control: a static connector's PUT does carry it, so the search above can find it.
    sandbox.clear_requests()
    stored = sk(
        "connect", "exa", "--user", "u", "--credentials-stdin",
        input=json.dumps({"api_key": API_KEY}),
    )  # fmt: skip
    assert stored.exit_code == 0, stored.stderr
    assert _carried_the_key(sandbox) == [f"PUT {ACCOUNTS}"]
    assert_no_leak(result, API_KEY)
    assert_no_leak(stored, API_KEY)


def test_a_failed_cleanup_of_the_oauth_account_names_sk_disconnect(sk, sandbox, driver):
    sandbox.fault(path=f"{ACCOUNTS}:delete", method="POST", kind="status", status=500)
    sandbox.clear_requests()
    result = sk(
        "connect", "gmail", "--user", "u", "--credentials-stdin",
        input=json.dumps({"api_key": API_KEY}),
    )  # fmt: skip
    assert result.exit_code == 2
    line = assert_one_error_line(result)
    assert "gmail uses OAUTH authorization" in line and "no credentials were sent" in line
    assert line.endswith("sk disconnect gmail --user u"), line
    assert _carried_the_key(sandbox) == []
    # What is left is the empty account, holding no credentials.
    left = driver.account("gmail", "u", credentials=True)
    assert left["status"] == "PENDING_AUTH"
    assert "static_auth" not in json.dumps(left)
    assert_no_leak(result, API_KEY)


def test_an_existing_oauth_account_is_refused_before_anything_is_written(sk, sandbox, driver):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    result = sk(
        "connect", "gmail", "--user", "u", "--credentials-stdin",
        input=json.dumps({"api_key": API_KEY}),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "OAUTH" in assert_one_error_line(result)
    assert [r["method"] for r in sandbox.requests() if r["path"].startswith(ACCOUNTS)] == ["GET"]
    assert "oauth_token" in driver.account("gmail", "u", credentials=True)["authorization_details"]


def test_a_secret_as_a_field_is_refused_and_nothing_is_sent(sk, sandbox):
    sandbox.clear_requests()
    for item in (f"api_key={API_KEY}", f"password={API_KEY}", f"X-Token={API_KEY}"):
        result = sk(
            "connect", "exa", "--user", "u", "--credentials-stdin", "--field", item,
            input=json.dumps({"username": "ci"}),
        )  # fmt: skip
        assert result.exit_code == 2, item
        assert "never taken on the command line" in assert_one_error_line(result)
        assert_no_leak(result, API_KEY)
    assert not any(r["path"].startswith(ACCOUNTS) for r in sandbox.requests())


def test_bad_credentials_input_is_exit_2_without_echoing_it(sk, sandbox):
    sandbox.clear_requests()
    for text in (f'{{"api_key": "{API_KEY}"', f'["{API_KEY}"]', "{}", ""):
        result = sk("connect", "exa", "--user", "u", "--credentials-stdin", input=text)
        assert result.exit_code == 2, text
        assert "--credentials-stdin" in assert_one_error_line(result)
        assert_no_leak(result, API_KEY)
    result = sk("connect", "exa", "--user", "u", "--field", "region=eu")
    assert result.exit_code == 2
    assert "pass --credentials-stdin" in assert_one_error_line(result)
    result = sk(
        "connect", "exa", "--user", "u", "--credentials-stdin", "--field", "region=eu",
        input=json.dumps({"api_key": API_KEY, "region": "us"}),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "region given both" in assert_one_error_line(result)
    result = sk(
        "connect", "exa", "--user", "u", "--credentials-stdin", "--no-wait",
        input=json.dumps({"api_key": API_KEY}),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--no-wait" in assert_one_error_line(result)
    assert not any(r["path"].startswith(ACCOUNTS) for r in sandbox.requests())


def test_an_unknown_connection_is_exit_2(sk, sandbox):
    result = sk(
        "connect", "exx", "--user", "u", "--credentials-stdin",
        input=json.dumps({"api_key": API_KEY}),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "no connection named 'exx'" in assert_one_error_line(result)
    assert_no_leak(result, API_KEY)


def test_the_installed_sk_keeps_the_key_off_its_arguments_and_output(sk_process, sandbox, driver):
    result = sk_process(
        "connect", "exa", "--user", "proc", "--credentials-stdin", "-v", "--json",
        input=json.dumps({"api_key": API_KEY}),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "ACTIVE"
    assert "Traceback" not in result.streams
    assert_no_leak(result, API_KEY)
    stored = driver.account("exa", "proc", credentials=True)
    assert stored["authorization_details"]["static_auth"]["details"]["api_key"] == API_KEY


def test_an_account_not_active_after_storing_is_exit_3(sk, sandbox, driver):
    first = sk(
        "connect", "exa", "--user", "u", "--credentials-stdin", input='{"api_key": "a1b2c3d4e5"}'
    )
    assert first.exit_code == 0, first.stderr
    # The confirming read (the second /details) answers PENDING_AUTH.
    pending = {
        "connector": "exa",
        "identifier": "u",
        "status": "PENDING_AUTH",
        "authorization_type": "API_KEY",
    }
    sandbox.fault(
        path=f"{ACCOUNTS}/details", method="GET", kind="mutate", mutation="replace",
        body={"connected_account": pending}, status=200, after=1, times=1,
    )  # fmt: skip
    result = sk(
        "connect", "exa", "--user", "u", "--credentials-stdin", "--json",
        input=json.dumps({"api_key": API_KEY}),
    )  # fmt: skip
    assert result.exit_code == 3
    assert "is PENDING_AUTH after its credentials were stored" in assert_one_error_line(result)
    assert result.stdout == ""
    assert_no_leak(result, API_KEY)


@pytest.mark.parametrize(
    ("command", "done"),
    [(("connect",), "exa is connected for tty"), (("accounts", "update"), "updated the")],
    ids=["connect", "accounts-update"],
)
def test_credentials_typed_on_a_terminal_are_not_echoed(
    command, done, sk_env, sandbox, driver, tmp_path
):
    """The installed sk with a pseudo-terminal as stdin: the pasted JSON (over two lines,
    ended by Ctrl-D) is stored and never appears on the screen."""
    if command == ("accounts", "update"):
        driver.api(
            "POST",
            ACCOUNTS,
            json={"connector": "exa", "identifier": "tty", "connected_account": {}},
        ).raise_for_status()
    env = {**os.environ, **sk_env, "NO_COLOR": "1"}
    args = [str(SK), *command, "exa", "--user", "tty", "--credentials-stdin"]
    pid, leader = pty.fork()
    if pid == 0:  # the child: exec sk at once
        os.chdir(tmp_path)
        os.execve(str(SK), args, env)
    typed = []

    def paste(screen: bytes) -> None:
        if not typed and b"Ctrl-D" in screen:
            typed.append(True)
            os.write(leader, f'{{\n"api_key": "{API_KEY}"}}\n'.encode() + b"\x04")

    screen = read_terminal(leader, paste)
    _, status = os.waitpid(pid, 0)
    os.close(leader)
    text = screen.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert typed and done in text
    assert_no_leak(text, API_KEY)
    stored = driver.account("exa", "tty", credentials=True)
    assert stored["authorization_details"]["static_auth"]["details"] == {"api_key": API_KEY}
