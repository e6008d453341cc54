"""`sk token`: the fresh token from /auth, redacted unless --debug; exit 3 when unusable."""

from __future__ import annotations

import json
import os
import pty
import subprocess

from tests.cli.conftest import SK, assert_no_leak, assert_one_error_line, read_terminal
from tests.conftest import CANARY_CLIENT_SECRET


def test_token_on_a_terminal_is_redacted_and_whole_with_debug(sk, sk_env, tmp_path, driver):
    tokens = driver.connect("gmail", "user_123")["authorization_details"]["oauth_token"]
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [str(SK), "token", "gmail", "--user", "user_123"],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env={**os.environ, **sk_env, "TERM": "xterm-256color"},
        cwd=tmp_path,
    )
    os.close(follower)
    screen = read_terminal(leader, finished=lambda: process.poll() is not None).decode()
    process.wait(timeout=10)
    os.close(leader)
    assert process.returncode == 0, screen
    assert f"{tokens['access_token'][:4]}…[redacted]" in screen
    assert "--debug" in screen
    assert_no_leak(screen, tokens["access_token"], tokens["refresh_token"], CANARY_CLIENT_SECRET)

    revealed = sk("token", "gmail", "--user", "user_123", "--debug")
    assert revealed.exit_code == 0
    # stdout carries the access token alone and nothing else.
    assert revealed.stdout == tokens["access_token"] + "\n"


def test_token_in_a_pipe_without_debug_prints_nothing_and_says_how(sk, driver, sandbox):
    """A script must not capture `ya29…[redacted]` as if it were a token: exit 2 and nothing
    on stdout; --json (redacted fields) and non-secret fields still print."""
    tokens = driver.connect("gmail", "u")["authorization_details"]["oauth_token"]
    for field in ((), ("--field", "refresh_token")):
        refused = sk("token", "gmail", "--user", "u", *field)
        assert refused.exit_code == 2, refused.stderr
        assert refused.stdout == ""
        line = assert_one_error_line(refused)
        assert "--debug" in line and "sk run gmail --user u" in line and "--to-github-env" in line
        assert len(refused.stderr.splitlines()) == 1
    # The account is read first: one to connect is still exit 3, as scripts expect.
    absent = sk("token", "gmail", "--user", "nobody")
    assert absent.exit_code == 3 and "sk connect gmail --user nobody" in absent.stderr
    # SK_DEBUG=1 of the process environment counts as --debug.
    assert (
        sk("token", "gmail", "--user", "u", env={"SK_DEBUG": "1"}).stdout.strip()
        == (tokens["access_token"])
    )
    scopes = sk("token", "gmail", "--user", "u", "--field", "scopes")
    assert scopes.exit_code == 0 and json.loads(scopes.stdout) == tokens["scopes"]
    as_json = sk("token", "gmail", "--user", "u", "--json")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout)["access_token"] == f"{tokens['access_token'][:4]}…[redacted]"


def test_token_reads_auth_every_time_and_gets_the_refreshed_token(sk, driver, sandbox):
    before = driver.connect("gmail", "u")["authorization_details"]["oauth_token"]["access_token"]
    sandbox.admin("POST", "/_sandbox/clock", json={"advance_seconds": 3700})
    result = sk("token", "gmail", "--user", "u", "--debug")
    assert result.exit_code == 0
    assert result.stdout.strip() != before
    assert result.stdout.strip() == driver.tokens("gmail", "u")["access_token"]


def test_warm_token_is_exactly_one_request(sk, driver, sandbox):
    driver.connect("gmail", "u")
    # warms the machine-token cache
    assert sk("token", "gmail", "--user", "u", "--debug").exit_code == 0
    sandbox.clear_requests()
    assert sk("token", "gmail", "--user", "u", "--debug").exit_code == 0
    requests = sandbox.requests()
    assert [(r["method"], r["path"]) for r in requests] == [
        ("GET", "/api/v1/connected_accounts/auth")
    ]


def test_token_json_shape_redacted_and_revealed(sk, driver):
    tokens = driver.connect("gmail", "a+b@example.com")["authorization_details"]["oauth_token"]
    result = sk("token", "gmail", "--user", "a+b@example.com", "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert set(document) == {
        "connector",
        "identifier",
        "status",
        "token_type",
        "access_token",
        "refresh_token",
        "scopes",
        "expires_at",
    }
    assert document["identifier"] == "a+b@example.com"
    assert document["status"] == "ACTIVE" and document["token_type"] == "Bearer"
    assert document["scopes"] == tokens["scopes"]
    assert_no_leak(result, tokens["access_token"], tokens["refresh_token"])
    revealed = json.loads(
        sk("token", "gmail", "--user", "a+b@example.com", "--json", "--debug").stdout
    )
    assert revealed["access_token"] == tokens["access_token"]
    assert revealed["refresh_token"] == tokens["refresh_token"]


def test_field_option(sk, driver):
    tokens = driver.connect("gmail", "u")["authorization_details"]["oauth_token"]
    refresh = sk("token", "gmail", "--user", "u", "--field", "refresh_token", "--debug")
    assert refresh.stdout.strip() == tokens["refresh_token"]
    scopes = sk("token", "gmail", "--user", "u", "--field", "scopes")
    assert json.loads(scopes.stdout) == tokens["scopes"]
    missing = sk("token", "gmail", "--user", "u", "--field", "nope", "--debug")
    assert missing.exit_code == 2
    assert_one_error_line(missing)


def test_no_account_exits_3_with_the_connect_command(sk):
    result = sk("token", "gmail", "--user", "nobody here", "--debug")
    assert result.exit_code == 3
    line = assert_one_error_line(result)
    assert "sk connect gmail --user 'nobody here'" in line
    assert result.stdout == ""


def test_not_active_exits_3(sk, driver):
    driver.connect("gmail", "u")
    driver.force("gmail", "u", "EXPIRED")
    result = sk("token", "gmail", "--user", "u", "--debug")
    assert result.exit_code == 3
    assert "EXPIRED" in assert_one_error_line(result)
    assert "sk connect gmail --user u" in result.stderr


def test_api_key_account_gives_its_key(sk, driver, sandbox):
    api_key_connector = next(
        c.name for c in sandbox.settings.connections if c.authorization_type == "API_KEY"
    )
    driver.connect(api_key_connector, "u", fill={"api_key": "canary-api-key-Zx81Qm"})
    revealed = sk("token", api_key_connector, "--user", "u", "--debug")
    assert revealed.stdout.strip() == "canary-api-key-Zx81Qm"
    as_json = sk("token", api_key_connector, "--user", "u", "--json")
    assert_no_leak(as_json, "canary-api-key-Zx81Qm")
    assert json.loads(as_json.stdout)["token_type"] == "API_KEY"
