"""`sk doctor`: every check passing (exit 0), and each check failing on its own, with its ✗
line and fix (exit 1; exit 5 when there is no configuration), against the live sandbox."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from scalekit_cli.commands.doctor import MAX_CLOCK_SKEW_SECONDS
from tests.cli.conftest import SK, assert_no_leak, assert_one_error_line
from tests.conftest import CANARY_CLIENT_ID, CANARY_CLIENT_SECRET
from tests.reliability.harness import closed_port, start_sandbox

CHECKS = (
    "configuration",
    "environment",
    "credentials",
    "clock",
    "cache",
    "keyring",
    "path",
    "gmail",
)
NO_CREDENTIALS = {"SCALEKIT_ENV_URL": "", "SCALEKIT_CLIENT_ID": "", "SCALEKIT_CLIENT_SECRET": ""}


@pytest.fixture
def keyring_env(tmp_path: Path) -> dict[str, str]:
    """A keyring backend chosen explicitly (there is no OS keyring here), storing in tmp_path."""
    return {
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
    }


@pytest.fixture
def doctor(sk, keyring_env) -> Callable[..., Any]:
    # This installation's `sk` first on PATH, so the path check passes unless a test says not.
    path = f"{SK.parent}{os.pathsep}{os.environ.get('PATH', '')}"

    def run(*args: str, env: dict[str, str] | None = None):
        return sk("doctor", *args, env={**keyring_env, "PATH": path, **(env or {})})

    return run


def lines_by_check(stdout: str) -> dict[str, str]:
    found = {}
    for line in stdout.splitlines():
        mark, name, *_ = [*line.split(maxsplit=2), ""]
        assert mark in ("✓", "✗", "-", "!"), line
        found[name] = line
    assert tuple(found) == CHECKS, list(found)
    return found


def only_failure(result, name: str) -> str:
    """The run failed on `name` alone; its line, which carries a fix."""
    lines = lines_by_check(result.stdout)
    failed = [check for check, line in lines.items() if line.startswith("✗")]
    assert failed == [name], result.stdout
    assert " — fix: " in lines[name]
    assert assert_one_error_line(result) == f"sk: 1 check(s) failed: {name}"
    return lines[name]


def test_everything_passes(doctor, driver, sandbox, sk_env) -> None:
    driver.connect("gmail", "u")
    result = doctor("--user", "u")
    assert result.exit_code == 0, result.stdout + result.stderr
    lines = lines_by_check(result.stdout)
    applying = {name: line for name, line in lines.items() if name != "keyring"}
    assert all(line.startswith("✓") for line in applying.values()), result.stdout
    assert "from environment (SCALEKIT_ENV_URL)" in lines["configuration"]
    # Any answer from the root proves the host is there; the wording cannot read as a failure.
    assert lines["environment"].startswith(
        f"✓ environment   reachable (HTTP 404 on /, as expected): {sandbox.url}, first byte after"
    )
    # Credentials from the environment need no keyring: that check does not apply.
    assert lines["keyring"] == "- keyring       no profile in use (the credentials need no keyring)"
    assert f"the first `sk` on PATH is this one ({SK})" in lines["path"]
    assert "answered for 'u'" in lines["gmail"]
    # The user's token went to the sandbox's Gmail stand-in, not Google: said once.
    assert result.stderr.splitlines() == [
        f"! Gmail access tokens go to {sandbox.url} (environment (SK_GMAIL_API_URL)), not to "
        "Google's https://gmail.googleapis.com"
    ]


def test_json_report(doctor, driver, sandbox) -> None:
    tokens = driver.connect("gmail", "u")["authorization_details"]["oauth_token"]
    result = doctor("--user", "u", "--json", "-v")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert [check["name"] for check in report["checks"]] == list(CHECKS)
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert set(statuses.values()) == {"pass", "skip"} and statuses["keyring"] == "skip"
    assert all(set(check) == {"name", "status", "detail", "fix"} for check in report["checks"])
    # -v traces the exchanges on stderr, secrets redacted.
    assert "/oauth/token → 200" in result.stderr
    assert_no_leak(result, CANARY_CLIENT_SECRET, tokens["access_token"], tokens["refresh_token"])


def test_credentials_are_proven_afresh(doctor, sandbox) -> None:
    sandbox.clear_requests()
    assert doctor().exit_code == 0
    assert sum(r["path"] == "/oauth/token" for r in sandbox.requests()) == 1
    # The cached token would prove nothing about the secret: a second run exchanges again.
    sandbox.clear_requests()
    assert doctor().exit_code == 0
    assert sum(r["path"] == "/oauth/token" for r in sandbox.requests()) == 1


def test_without_a_gmail_account_the_gmail_check_is_skipped(doctor) -> None:
    result = doctor("--user", "nobody")
    assert result.exit_code == 0, result.stdout
    assert lines_by_check(result.stdout)["gmail"].startswith("- gmail")


def test_missing_configuration_exits_5(doctor) -> None:
    result = doctor(env={"SCALEKIT_ENV_URL": "", "SCALEKIT_CLIENT_ID": ""})
    assert result.exit_code == 5
    lines = lines_by_check(result.stdout)
    assert lines["configuration"].startswith("✗ configuration")
    assert "no Scalekit environment configured" in lines["configuration"]
    for skipped in ("environment", "credentials", "clock", "gmail"):
        assert lines[skipped].startswith("-"), lines[skipped]
    assert lines["cache"].startswith("✓") and lines["keyring"].startswith("✓")
    assert assert_one_error_line(result).startswith("sk: no usable configuration")


def test_plain_http_off_loopback_is_a_configuration_failure(doctor) -> None:
    result = doctor(env={"SCALEKIT_ENV_URL": "http://acme.scalekit.dev"})
    assert result.exit_code == 5
    assert "refusing plain http://" in lines_by_check(result.stdout)["configuration"]


def test_an_unreachable_environment(doctor) -> None:
    port = closed_port()
    result = doctor(env={"SCALEKIT_ENV_URL": f"http://127.0.0.1:{port}"})
    assert result.exit_code == 1
    lines = lines_by_check(result.stdout)
    assert lines["environment"].startswith(
        f"✗ environment   http://127.0.0.1:{port} cannot be reached: connection refused"
    )
    assert lines["credentials"].startswith("- credentials")
    assert assert_one_error_line(result) == "sk: 1 check(s) failed: environment"


def test_rejected_credentials(doctor) -> None:
    result = doctor(env={"SCALEKIT_CLIENT_SECRET": "not-the-secret"})
    assert result.exit_code == 1
    line = only_failure(result, "credentials")
    assert "rejected the client credentials" in line and "SCALEKIT_CLIENT_SECRET" in line


def test_clock_skew(doctor, tmp_path: Path) -> None:
    """A server whose `Date` is ten minutes ahead of this machine."""
    ahead = timedelta(seconds=10 * MAX_CLOCK_SKEW_SECONDS)

    def skewed_date(app: Any) -> Any:
        async def wrapped(scope: dict, receive: Callable, send: Callable) -> None:
            async def send_with_date(message: dict) -> None:
                if message["type"] == "http.response.start":
                    when = format_datetime(datetime.now(UTC) + ahead, usegmt=True)
                    headers = [h for h in message.get("headers", []) if h[0].lower() != b"date"]
                    message = {**message, "headers": [*headers, (b"date", when.encode())]}
                await send(message)

            await app(scope, receive, send_with_date)

        return wrapped

    server = start_sandbox(skewed_date, date_header=False)
    try:
        result = doctor(env={"SCALEKIT_ENV_URL": server.url})
    finally:
        server.stop()
    assert result.exit_code == 1
    line = only_failure(result, "clock")
    # `Date` has whole seconds: ten minutes show as 599 or 600 s.
    assert re.search(r"\b(599|600) s behind the server's", line) and "NTP" in line


def test_cache_directory_permissions(doctor, sk_env) -> None:
    tokens = Path(sk_env["SK_CACHE_DIR"]) / "tokens"
    tokens.mkdir(parents=True)
    os.chmod(tokens, 0o755)
    loose = doctor()
    assert loose.exit_code == 1
    assert f"chmod 700 {tokens}" in only_failure(loose, "cache")

    os.chmod(tokens, 0o700)
    (tokens / "leaked.json").write_text("{}")
    os.chmod(tokens / "leaked.json", 0o644)
    readable = doctor()
    assert readable.exit_code == 1
    line = only_failure(readable, "cache")
    assert "leaked.json" in line and f"chmod 600 {tokens}/*" in line


@pytest.mark.parametrize(
    ("backend", "detail"),
    [
        ("keyring.backends.null.Keyring", "keyring.backends.null.Keyring stores nothing"),
        ("keyring.backends.fail.Keyring", "keyring.backends.fail.Keyring stores nothing"),
        ("no.such.Backend", "cannot be loaded"),
    ],
)
def test_an_unusable_keyring(doctor, backend: str, detail: str) -> None:
    # Without any configuration `sk login` is a way forward, and it needs a keyring.
    result = doctor(env={**NO_CREDENTIALS, "PYTHON_KEYRING_BACKEND": backend})
    assert result.exit_code == 5
    line = lines_by_check(result.stdout)["keyring"]
    assert line.startswith("✗ keyring")
    assert detail in line and "keyrings.alt" in line and "SCALEKIT_CLIENT_SECRET" in line


def test_ci_credentials_from_the_environment_and_no_keyring_pass(doctor) -> None:
    # A CI job: working credentials in the environment, no keyring backend at all.
    result = doctor(env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert result.exit_code == 0, result.stdout + result.stderr
    lines = lines_by_check(result.stdout)
    assert lines["keyring"].startswith("- keyring       no profile in use")
    assert not [line for line in lines.values() if line.startswith("✗")]
    report = json.loads(
        doctor("--json", env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}).stdout
    )
    assert report["ok"] is True
    assert {c["name"]: c["status"] for c in report["checks"]}["keyring"] == "skip"


def test_the_keyring_is_checked_when_a_profile_is_in_use(sk, doctor, sandbox, keyring_env):
    login = sk(
        "login", "--profile", "p", "--env-url", sandbox.url, "--client-id", CANARY_CLIENT_ID,
        "--client-secret-stdin", input=CANARY_CLIENT_SECRET + "\n",
        env={**NO_CREDENTIALS, **keyring_env},
    )  # fmt: skip
    assert login.exit_code == 0, login.stderr
    result = doctor("--json", env={**NO_CREDENTIALS, "SK_PROFILE": "p"})
    assert result.exit_code == 0, result.stdout + result.stderr
    keyring = {c["name"]: c for c in json.loads(result.stdout)["checks"]}["keyring"]
    assert keyring["status"] == "pass"
    assert "keyrings.alt.file.PlaintextKeyring" in keyring["detail"]


def test_another_sk_earlier_on_path_is_a_warning(doctor, tmp_path: Path) -> None:
    # Scalekit's npm CLI installs an `sk` of its own: a shim into node_modules.
    package = tmp_path / "npm" / "lib" / "node_modules" / "@scalekit-inc" / "cli" / "bin"
    package.mkdir(parents=True)
    program = package / "sk.js"
    program.write_text("#!/usr/bin/env node\nconsole.log('other')\n")
    program.chmod(0o755)
    shims = tmp_path / "npm" / "bin"
    shims.mkdir()
    (shims / "sk").symlink_to(program)
    path = f"{shims}{os.pathsep}{SK.parent}{os.pathsep}{os.environ.get('PATH', '')}"
    result = doctor(env={"PATH": path})
    assert result.exit_code == 0, result.stdout + result.stderr  # a warning does not fail
    line = lines_by_check(result.stdout)["path"]
    assert line.startswith(f"! path          the first `sk` on PATH is {shims / 'sk'}")
    assert "@scalekit-inc/cli" in line and f"not this one ({SK})" in line
    assert f"fix: put {SK.parent} earlier on PATH" in line


def test_gmail_account_not_active(doctor, driver) -> None:
    driver.connect("gmail", "u")
    driver.force("gmail", "u", "EXPIRED")
    result = doctor("--user", "u")
    assert result.exit_code == 1
    line = only_failure(result, "gmail")
    assert "is EXPIRED" in line and "fix: sk connect gmail --user u" in line


def test_gmail_refuses_the_token(doctor, driver, sandbox) -> None:
    driver.connect("gmail", "u")
    sandbox.admin(
        "POST",
        "/_sandbox/accounts/revoke",
        json={"connector": "gmail", "identifier": "u", "rotate": False},
    )
    result = doctor("--user", "u")
    assert result.exit_code == 1
    line = only_failure(result, "gmail")
    assert "Gmail refused the account's token" in line
    assert line.endswith("fix: sk connect gmail --user u --force")


def test_gmail_unreachable(doctor, driver) -> None:
    driver.connect("gmail", "u")
    port = closed_port()
    result = doctor("--user", "u", env={"SK_GMAIL_API_URL": f"http://127.0.0.1:{port}"})
    assert result.exit_code == 1
    line = only_failure(result, "gmail")
    assert "cannot reach 127.0.0.1: connection refused" in line


def test_the_console_script(sk_process, keyring_env, sandbox) -> None:
    passing = sk_process("doctor", env=keyring_env)
    assert passing.exit_code == 0, passing.stdout + passing.stderr
    failing = sk_process("doctor", env={**keyring_env, "SCALEKIT_CLIENT_SECRET": "wrong"})
    assert failing.exit_code == 1
    assert "✗ credentials" in failing.stdout
    assert_no_leak(failing, CANARY_CLIENT_SECRET, "wrong-secret-never-used")


def test_the_embedded_sandbox_is_named_not_its_placeholder_host(sk, keyring_env) -> None:
    result = sk("--sandbox", "doctor", env=keyring_env)
    environment = lines_by_check(result.stdout)["environment"]
    assert environment.startswith("✓ environment   reachable (HTTP 404 on /, as expected): ")
    assert "the embedded sandbox (in-process)" in environment
    assert "sandbox.invalid" not in result.streams
