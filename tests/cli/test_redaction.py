"""Secrets never reach a stream unless --debug, and the environment's credentials never (nor
into the -v trace, --debug or not): canaries searched in every captured output."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import assert_no_leak
from tests.conftest import CANARY_CLIENT_SECRET

COMMANDS = (
    ("token", "gmail", "--user", "u", "--json"),
    ("status", "gmail", "--user", "u", "--json"),
    ("status", "--user", "u"),
    ("gmail", "unread", "--user", "u", "--json"),
    ("exec-tool", "gmail_fetch_mails", "--user", "u", "-p", "max_results=2"),
    ("connect", "gmail", "--user", "u"),
)


def _secrets(driver, sk, sk_env) -> list[str]:
    """The client secret, the machine token sk itself uses (read from its cache), and the
    account's tokens."""
    tokens = driver.connect("gmail", "u")["authorization_details"]["oauth_token"]
    # fills sk's machine-token cache
    assert sk("token", "gmail", "--user", "u", "--json").exit_code == 0
    (cache_file,) = (Path(sk_env["SK_CACHE_DIR"]) / "tokens").glob("*.json")
    machine_token = json.loads(cache_file.read_text())["access_token"]
    return [CANARY_CLIENT_SECRET, machine_token, tokens["access_token"], tokens["refresh_token"]]


def test_verbose_traces_every_exchange_with_secrets_redacted(sk, driver, sandbox, sk_env):
    secrets = _secrets(driver, sk, sk_env)
    for args in COMMANDS:
        for extra in ((), ("-v",)):
            result = sk(*args, *extra)
            assert result.exit_code == 0, (args, result.stderr)
            assert_no_leak(result, *secrets)
    verbose = sk("token", "gmail", "--user", "u", "--json", "-v")
    # Cold cache: the token exchange, then /auth; method, URL, status and time on each line.
    lines = [line for line in verbose.stderr.splitlines() if line.startswith("* ")]
    assert lines[-1].startswith("* GET http://127.0.0.1:")
    assert "/api/v1/connected_accounts/auth?connector=gmail&identifier=u → 200 in " in lines[-1]
    assert "authorization: Bearer " in verbose.stderr and "…[redacted]" in verbose.stderr


def test_cold_cache_token_exchange_is_traced_without_the_secret(sk, driver, sandbox, sk_env):
    secrets = _secrets(driver, sk, sk_env)
    result = sk(
        "token",
        "gmail",
        "--user",
        "u",
        "--json",
        "-v",
        env={"SK_CACHE_DIR": sk_env["SK_CACHE_DIR"] + "-cold"},
    )
    assert result.exit_code == 0
    assert "POST http://127.0.0.1" in result.stderr and "/oauth/token → 200" in result.stderr
    assert "client_secret=" in result.stderr  # the field is named, its value masked
    (cold_cache,) = (Path(sk_env["SK_CACHE_DIR"] + "-cold") / "tokens").glob("*.json")
    fresh_machine_token = json.loads(cold_cache.read_text())["access_token"]
    assert_no_leak(result, *secrets, fresh_machine_token)


def test_debug_reveals_the_output_and_turns_on_no_trace(sk, driver, sandbox, sk_env):
    secrets = _secrets(driver, sk, sk_env)
    result = sk("token", "gmail", "--user", "u", "--debug")
    assert result.stdout == secrets[2] + "\n"
    assert result.stderr == ""  # no trace: --debug reveals, -v traces
    as_json = sk("token", "gmail", "--user", "u", "--json", "--debug")
    assert json.loads(as_json.stdout)["refresh_token"] == secrets[3]
    # SK_DEBUG=1 is the same as --debug.
    from_environment = sk("token", "gmail", "--user", "u", env={"SK_DEBUG": "1"})
    assert from_environment.stdout == secrets[2] + "\n" and from_environment.stderr == ""


def test_the_trace_is_redacted_even_with_debug(sk, driver, sandbox, sk_env):
    """`-v --debug`: the token on stdout, and a trace on stderr that shows neither it nor the
    environment's credentials — the authorization header, the machine token, the client
    secret of a cold token exchange, the credential fields of /auth's body."""
    secrets = _secrets(driver, sk, sk_env)
    for env in (
        {},
        {"SK_CACHE_DIR": sk_env["SK_CACHE_DIR"] + "-cold"},
        {"SK_CACHE_DIR": sk_env["SK_CACHE_DIR"] + "-cold-2", "SK_DEBUG": "1"},
    ):
        result = sk("token", "gmail", "--user", "u", "-v", "--debug", env=env)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == secrets[2] + "\n"
        assert "* GET " in result.stderr and "authorization: Bearer " in result.stderr
        assert '"access_token": "' in result.stderr and "…[redacted]" in result.stderr
        (cache_file,) = (Path(env.get("SK_CACHE_DIR", sk_env["SK_CACHE_DIR"])) / "tokens").glob(
            "*.json"
        )
        machine_token = json.loads(cache_file.read_text())["access_token"]
        assert_no_leak(result.stderr, *secrets, machine_token)
        if env:  # a cold cache: the token exchange is traced, its secret masked
            assert "client_secret=" in result.stderr


def test_errors_carry_no_secret(sk, driver, sandbox, sk_env):
    secrets = _secrets(driver, sk, sk_env)
    sandbox.fault(path="/api/v1/connected_accounts/auth", kind="status", status=500)
    failing = sk("token", "gmail", "--user", "u", "--json", "-v")
    assert failing.exit_code == 1
    assert_no_leak(failing, *secrets)
    sandbox.admin("DELETE", "/_sandbox/faults")
    sandbox.fault(path="/api/v1/connected_accounts/auth", kind="drop")
    dropped = sk("token", "gmail", "--user", "u", "--json", "-v")
    assert dropped.exit_code == 1 and "Traceback" not in dropped.streams
    assert_no_leak(dropped, *secrets)
