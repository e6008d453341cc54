"""Configuration: flags > environment > .env; URL rules; exit 5 for credential problems."""

from __future__ import annotations

import json
import stat
import sys

import pytest

from tests.cli.conftest import assert_no_leak, assert_one_error_line
from tests.conftest import CANARY_CLIENT_SECRET


def test_missing_configuration_is_exit_5(sk):
    result = sk("token", "gmail", "--user", "u", env={"SCALEKIT_ENV_URL": ""})
    assert result.exit_code == 5
    assert "SCALEKIT_ENV_URL" in assert_one_error_line(result)
    no_secret = sk("token", "gmail", "--user", "u", env={"SCALEKIT_CLIENT_SECRET": ""})
    assert no_secret.exit_code == 5
    assert "SCALEKIT_CLIENT_SECRET" in assert_one_error_line(no_secret)


def test_plain_http_is_refused_off_loopback(sk):
    result = sk(
        "token", "gmail", "--user", "u", env={"SCALEKIT_ENV_URL": "http://acme.scalekit.dev"}
    )
    assert result.exit_code == 5
    assert "http://" in assert_one_error_line(result)


@pytest.mark.parametrize("host", ["acme.invalid", "localhost.invalid", "127.0.0.1.invalid"])
def test_bare_host_gets_https(sk, host):
    # Nothing listens there, so the failure names the https URL the host became; a name that
    # only starts like a loopback host is not one.
    result = sk("token", "gmail", "--user", "u", "-v", env={"SCALEKIT_ENV_URL": f"{host}:9"})
    assert result.exit_code == 1
    assert f"https://{host}:9/oauth/token" in result.stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_bare_loopback_host_gets_http(sk, driver, sandbox, host):
    # A local server (the sandbox) speaks plain HTTP: `127.0.0.1:8765` means http://.
    driver.connect("gmail", "u")
    bare = f"{host}:{sandbox.url.rsplit(':', 1)[1]}"
    result = sk("token", "gmail", "--user", "u", "-v", env={"SCALEKIT_ENV_URL": bare})
    assert result.exit_code == 0, result.stderr
    assert f"POST http://{bare}/oauth/token" in result.stderr
    shown = sk("--env-url", bare, "config", "show", "--json")
    assert json.loads(shown.stdout)["env_url"]["value"] == f"http://{bare}"


def test_environment_url_alias_and_flag_precedence(sk, driver, sandbox):
    driver.connect("gmail", "u")
    alias = sk(
        "token",
        "gmail",
        "--user",
        "u",
        env={"SCALEKIT_ENV_URL": "", "SCALEKIT_ENVIRONMENT_URL": sandbox.url},
    )
    assert alias.exit_code == 0, alias.stderr
    flag = sk(
        "--env-url",
        sandbox.url,
        "token",
        "gmail",
        "--user",
        "u",
        env={"SCALEKIT_ENV_URL": "https://wrong.invalid"},
    )
    assert flag.exit_code == 0, flag.stderr


def test_dotenv_fills_gaps_but_never_overrides_the_environment(sk, driver, sandbox, tmp_path):
    driver.connect("gmail", "u")
    (tmp_path / ".env").write_text(
        f"SCALEKIT_ENV_URL={sandbox.url}\nSCALEKIT_CLIENT_SECRET=wrong-secret-from-dotenv\n"
    )
    # The environment's secret wins over .env's; .env's URL fills the gap.
    result = sk("token", "gmail", "--user", "u", env={"SCALEKIT_ENV_URL": ""})
    assert result.exit_code == 0, result.stderr
    (tmp_path / ".env").write_text(
        f"SCALEKIT_ENV_URL={sandbox.url}\nSCALEKIT_CLIENT_SECRET={CANARY_CLIENT_SECRET}\n"
    )
    only_dotenv = sk(
        "token", "gmail", "--user", "u", env={"SCALEKIT_ENV_URL": "", "SCALEKIT_CLIENT_SECRET": ""}
    )
    assert only_dotenv.exit_code == 0, only_dotenv.stderr


def test_dotenv_is_not_imported_without_a_dotenv_file(sk_process):
    import subprocess

    code = (
        "import sys, scalekit_cli.config as c; c.resolve(c.Flags(sandbox=True)); "
        "print('dotenv' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=sk_process.cwd
    )
    assert done.stdout.strip() == "False", done.stderr


def test_wrong_secret_is_exit_5_without_the_secret(sk):
    result = sk(
        "token", "gmail", "--user", "u", env={"SCALEKIT_CLIENT_SECRET": "wrong-canary-Qk29xLv"}
    )
    assert result.exit_code == 5
    assert "rejected the client credentials" in assert_one_error_line(result)
    assert_no_leak(result, "wrong-canary-Qk29xLv", CANARY_CLIENT_SECRET)


def test_bad_timeout_setting(sk):
    result = sk("token", "gmail", "--user", "u", env={"SK_HTTP_TIMEOUT": "soon"})
    assert result.exit_code == 5
    assert "SK_HTTP_TIMEOUT" in assert_one_error_line(result)


def test_machine_token_cache_file_is_private_and_keyed(sk, driver, sk_env, sandbox):
    from pathlib import Path

    driver.connect("gmail", "u")
    assert sk("token", "gmail", "--user", "u").exit_code == 0
    directory = Path(sk_env["SK_CACHE_DIR"]) / "tokens"
    (cached,) = directory.glob("*.json")
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert CANARY_CLIENT_SECRET not in cached.read_text()
    # A cache written for one client id is never used for another.
    other = sk("token", "gmail", "--user", "u", env={"SCALEKIT_CLIENT_ID": "someone-else"})
    assert other.exit_code == 5
    # A corrupted cache is ignored and rewritten.
    cached.write_text("{not json")
    assert sk("token", "gmail", "--user", "u").exit_code == 0
    assert cached.read_text().startswith("{")


def test_stale_machine_token_is_replaced_once(sk, driver, sandbox):
    driver.connect("gmail", "u")
    assert sk("token", "gmail", "--user", "u").exit_code == 0
    sandbox.admin("POST", "/_sandbox/machine_tokens/revoke")
    sandbox.clear_requests()
    result = sk("token", "gmail", "--user", "u")
    assert result.exit_code == 0, result.stderr
    assert [r["path"] for r in sandbox.requests()] == [
        "/api/v1/connected_accounts/auth",
        "/oauth/token",
        "/api/v1/connected_accounts/auth",
    ]


def test_malformed_urls_are_configuration_errors(sk):
    for url, words in (
        ("https://[::1", "not a valid URL"),
        ("https://host:99999", "not a valid URL"),
        ("https://bob:pw-canary-Zq8@acme.scalekit.dev", "user name or password"),
        ("ftp://acme.scalekit.dev", "not an http(s) URL"),
        ("https://acme.scalekit.dev/some/path", "bare origin"),
    ):
        result = sk("token", "gmail", "--user", "u", "-v", env={"SCALEKIT_ENV_URL": url})
        assert result.exit_code == 5, (url, result.stderr)
        assert words in assert_one_error_line(result)
        assert "pw-canary-Zq8" not in result.stderr


def test_gmail_url_follows_the_same_rules(sk, driver, sandbox):
    driver.connect("gmail", "u")
    refused = sk("gmail", "unread", "--user", "u", env={"SK_GMAIL_API_URL": "http://gmail.example"})
    assert refused.exit_code == 5
    assert "Gmail access token would cross the network in clear" in assert_one_error_line(refused)
    # A bare loopback host:port gets http://, like the environment URL.
    bare = sk(
        "gmail",
        "unread",
        "--user",
        "u",
        "-v",
        env={"SK_GMAIL_API_URL": sandbox.url.removeprefix("http://")},
    )
    assert bare.exit_code == 0, bare.stderr
    assert f"GET {sandbox.url}/gmail/v1/users/me/messages" in bare.stderr
