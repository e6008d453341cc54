"""`sk connect`: get-or-create, the link on stdout, the wait, renewal, and user verification."""

from __future__ import annotations

import json
import re
import signal
import time

from scalekit_cli.sandbox.hosted_form import approve_as_browser
from tests.cli.conftest import assert_one_error_line

LINK = re.compile(r"^https?://\S+$")
FAST = ("--interval", "0.1", "--timeout", "20")


def test_waits_for_approval_printing_the_bare_link(sk_process, sandbox, driver):
    sandbox.clear_requests()
    process = sk_process.popen("connect", "gmail", "--user", "user_123", *FAST)
    link = process.stdout.readline().strip()
    assert LINK.match(link), link
    driver.wait_for_polls(3)  # some polls go by before the user approves
    approve_as_browser(link)  # the printed link is the one that works
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert out == ""  # the link was the only line on stdout
    assert "connected" in err and "Traceback" not in err
    paths = [r["path"] for r in sandbox.requests()]
    assert "/api/v1/connected_accounts/auth" not in paths  # no credentials while waiting
    # Get-or-create as the SDK does: read, then create on 404.
    assert paths[:3] == [
        "/oauth/token",
        "/api/v1/connected_accounts/details",
        "/api/v1/connected_accounts",
    ]


def test_approval_in_process_and_json_result(sk, driver):
    driver.approve_later("gmail", "u", after_polls=3)
    result = sk("connect", "gmail", "--user", "u", "--json", *FAST)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)  # stdout holds the JSON alone
    assert document["status"] == "ACTIVE" and document["connector"] == "gmail"
    assert "access_token" not in result.stdout
    assert re.search(r"https?://\S+/magic/", result.stderr)  # the link went to stderr


def test_already_active_needs_no_link(sk, driver, sandbox):
    driver.connect("gmail", "u")
    sandbox.clear_requests()
    result = sk("connect", "gmail", "--user", "u")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "already connected" in result.stderr
    assert not any(r["path"].endswith("/magic_link") for r in sandbox.requests())


def test_force_makes_a_new_link_and_waits_for_reauthorization(sk, driver):
    driver.connect("gmail", "u")
    driver.approve_later("gmail", "u", after_polls=2)
    result = sk("connect", "gmail", "--user", "u", "--force", *FAST)
    assert result.exit_code == 0, result.stderr
    assert LINK.match(result.stdout.strip())
    assert driver.polls() >= 2


def test_no_wait_prints_link_and_json(sk, sandbox):
    plain = sk("connect", "slack", "--user", "u", "--no-wait")
    assert plain.exit_code == 0
    assert LINK.match(plain.stdout.strip())
    document = json.loads(sk("connect", "slack", "--user", "u", "--no-wait", "--json").stdout)
    assert set(document) == {"connector", "identifier", "status", "link", "expiry"}
    assert document["status"] == "PENDING_AUTH" and document["connector"] == "slack"
    # Each run read the account once (get-or-create) and never polled.
    details = [r for r in sandbox.requests() if r["path"].endswith("/details")]
    assert len(details) == 2


def test_timeout_exits_4(sk):
    result = sk("connect", "gmail", "--user", "u", "--interval", "0.1", "--timeout", "0.5")
    assert result.exit_code == 4
    assert "timed out" in assert_one_error_line(result)


def test_deny_is_noticed_at_the_next_poll_and_exits_1(sk, driver):
    driver.approve_later("gmail", "u", after_polls=2, press="Deny")
    result = sk("connect", "gmail", "--user", "u", "--interval", "0.1", "--timeout", "20")
    assert result.exit_code == 1
    line = assert_one_error_line(result)
    assert "u did not authorize gmail: the authorization was denied or ended on the" in line
    assert "(the account is now DISCONNECTED)" in line
    assert driver.account("gmail", "u")["status"] == "DISCONNECTED"


def test_reconnecting_an_expired_account_waits_rather_than_taking_it_for_a_deny(sk, driver):
    driver.connect("gmail", "u")
    driver.force("gmail", "u", "EXPIRED")
    driver.approve_later("gmail", "u", after_polls=3)
    result = sk("connect", "gmail", "--user", "u", *FAST)
    assert result.exit_code == 0, result.stderr
    assert driver.account("gmail", "u")["status"] == "ACTIVE"


def test_expired_link_is_renewed_and_printed(sk_process, sandbox_factory):
    live = sandbox_factory(link_ttl=2)  # links lapse in real time, as the CLI sees them
    process = sk_process.popen(
        "connect", "gmail", "--user", "u", *FAST, env={"SCALEKIT_ENV_URL": live.url}
    )
    first = process.stdout.readline().strip()
    second = process.stdout.readline().strip()  # printed once the first one expired
    assert LINK.match(first) and LINK.match(second) and second != first
    approve_as_browser(second)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "expired" in err


def test_ctrl_c_exits_130_without_traceback(sk_process, driver):
    process = sk_process.popen("connect", "gmail", "--user", "u", *FAST)
    process.stdout.readline()
    driver.wait_for_polls(2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 130
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "sk: interrupted"


def test_open_hands_the_link_to_the_browser(sk_process, tmp_path):
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {opened}\n')
    browser.chmod(0o755)
    result = sk_process(
        "connect", "gmail", "--user", "u", "--no-wait", "--open", env={"BROWSER": str(browser)}
    )
    assert result.exit_code == 0, result.stderr
    deadline = time.monotonic() + 5
    while not opened.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert opened.read_text() == result.stdout.strip()


def test_custom_verification_without_flags_reports_pending_once(sk, sandbox_factory, sk_env):
    from tests.cli.conftest import SandboxDriver

    live = sandbox_factory(user_verification="custom")
    driver = SandboxDriver(live)
    driver.approve_later("gmail", "u", after_polls=1)
    result = sk(
        "connect",
        "gmail",
        "--user",
        "u",
        "--interval",
        "0.1",
        "--timeout",
        "2",
        env={"SCALEKIT_ENV_URL": live.url},
    )
    assert result.exit_code == 4
    assert result.stderr.count("user verification") == 1
    assert driver.account("gmail", "u")["status"] == "PENDING_VERIFICATION"


def test_verify_user_completes_custom_verification(sk_process, sandbox_factory):
    from tests.cli.conftest import SandboxDriver

    live = sandbox_factory(user_verification="custom")
    driver = SandboxDriver(live)
    process = sk_process.popen(
        "connect",
        "gmail",
        "--user",
        "u",
        "--verify-user",
        *FAST,
        env={"SCALEKIT_ENV_URL": live.url},
    )
    link = process.stdout.readline().strip()
    # The browser follows the redirect to sk's loopback listener, which verifies the user.
    final_page = approve_as_browser(link)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "Verified" in final_page or "verified" in final_page
    assert driver.account("gmail", "u")["status"] == "ACTIVE"
    verify_calls = [r for r in live.requests() if r["path"].endswith("/user/verify")]
    assert len(verify_calls) == 1
    assert json.loads(verify_calls[0]["body"])["identifier"] == "u"


def test_verify_user_refuses_a_forged_state(sk_process, sandbox_factory):
    import httpx

    from tests.cli.conftest import SandboxDriver

    live = sandbox_factory(user_verification="custom")
    driver = SandboxDriver(live)
    process = sk_process.popen(
        "connect",
        "gmail",
        "--user",
        "u",
        "--verify-user",
        "--interval",
        "0.1",
        "--timeout",
        "20",
        env={"SCALEKIT_ENV_URL": live.url},
    )
    link = process.stdout.readline().strip()
    driver.wait_for_polls(1)
    magic = next(r for r in live.requests() if r["path"].endswith("/magic_link"))
    verify_url = json.loads(magic["body"])["user_verify_url"]
    assert verify_url.startswith("http://127.0.0.1:")
    forged = httpx.get(verify_url, params={"auth_request_id": "anything", "state": "forged"})
    missing = httpx.get(verify_url, params={"auth_request_id": "anything"})
    assert forged.status_code == 400 and missing.status_code == 400
    assert not any(r["path"].endswith("/user/verify") for r in live.requests())
    # The genuine browser still gets through afterwards; a replay of it verifies nothing.
    approve_as_browser(link)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "state did not match" in err
    verify_calls = [r for r in live.requests() if r["path"].endswith("/user/verify")]
    assert len(verify_calls) == 1


def test_verify_url_is_passed_to_the_link(sk, sandbox):
    result = sk(
        "connect", "gmail", "--user", "u", "--no-wait", "--verify-url", "https://app.example/verify"
    )
    assert result.exit_code == 0
    magic = next(r for r in sandbox.requests() if r["path"].endswith("/magic_link"))
    assert json.loads(magic["body"]) == {
        "connector": "gmail",
        "identifier": "u",
        "user_verify_url": "https://app.example/verify",
    }


def test_bad_input_is_exit_2_before_any_request(sk, sandbox):
    sandbox.clear_requests()
    for args in (
        ("connect", "gmail", "--user", ""),
        ("connect", "gm@il", "--user", "u"),
        ("connect", "gmail", "--user", "a\x07b"),
        ("connect", "gmail", "--user", "x" * 1025),
        ("connect", "gmail", "--user", "u", "--timeout", "0"),
        ("connect", "gmail", "--user", "u", "--interval", "-1"),
        ("connect", "gmail", "--user", "u", "--interval", "nan"),
        ("connect", "gmail", "--user", "u", "--timeout", "soon"),
        ("connect", "gmail"),
    ):
        result = sk(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert_one_error_line(result)
    assert sandbox.requests() == []
