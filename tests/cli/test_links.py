"""Magic links are printed and opened only when they are https:// (or http:// to loopback)
URLs without whitespace or controls: whatever else a server returns is exit 1 naming the
problem, and no browser is started."""

from __future__ import annotations

import sys

import pytest

from tests.cli.conftest import assert_one_error_line

MAGIC_LINK = "/api/v1/connected_accounts/magic_link"
HOSTILE_LINKS = {
    "file:///etc/passwd": "not an https:// URL",
    "javascript:alert(document.cookie)": "not an https:// URL",
    "ssh://attacker.example/": "not an https:// URL",
    "--new-window=https://evil.example": "not an https:// URL",
    "data:text/html,<script>alert(1)</script>": "not an https:// URL",
    "http://evil.example/magic/x": "plain http:// to a host that is not loopback",
    "https://": "names no host",
    "https://ok.example/magic/x y": "whitespace or control characters",
    "https://ok.example/\x1b]8;;https://evil.example\x07": "whitespace or control characters",
    "https://ok.example/\u202emagic": "whitespace or control characters",
    "https://ok.example/magic\nsk: all good": "whitespace or control characters",
}


@pytest.fixture
def browser_log(tmp_path, monkeypatch) -> tuple[dict[str, str], object]:
    """A BROWSER (what Python's webbrowser runs first) that records every URL it is given."""
    log = tmp_path / "browser.log"
    script = tmp_path / "browser.py"
    script.write_text(
        f"import sys\nwith open({str(log)!r}, 'a') as f:\n    f.write(sys.argv[1] + '\\n')\n"
    )
    return {"BROWSER": f"{sys.executable} {script} %s", "DISPLAY": ""}, log


@pytest.mark.parametrize("link", list(HOSTILE_LINKS), ids=list(range(len(HOSTILE_LINKS))))
def test_a_link_that_is_not_https_is_neither_printed_nor_opened(
    link, sandbox, sk_process, browser_log
):
    env, log = browser_log
    sandbox.fault(
        path=MAGIC_LINK, kind="mutate", mutation="replace", body={"link": link, "expiry": ""}
    )
    result = sk_process("connect", "gmail", "--user", "u", "--no-wait", "--open", env=env)
    assert result.exit_code == 1, result.stderr
    line = assert_one_error_line(result)
    assert "unexpected answer from 127.0.0.1" in line and "cannot be followed" in line
    assert HOSTILE_LINKS[link] in line
    assert result.stdout == ""  # not printed for a script to follow either
    assert not log.exists(), "no browser may be started"
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr


def test_a_loopback_link_is_printed_and_opened(sandbox, sk_process, browser_log):
    env, log = browser_log
    result = sk_process("connect", "gmail", "--user", "u", "--no-wait", "--open", env=env)
    assert result.exit_code == 0, result.stderr
    link = result.stdout.strip()
    assert link.startswith(f"{sandbox.url}/magic/")
    assert log.read_text().split() == [link]


def test_the_wait_refuses_a_renewed_link_that_is_not_https(sandbox, sk, driver):
    """A link that expires mid-wait is replaced; the replacement is held to the same rule."""
    sandbox.fault(
        path=MAGIC_LINK,
        kind="mutate",
        mutation="replace",
        body={"link": "javascript:alert(1)", "expiry": "2000-01-01T00:00:00Z"},
        after=1,
    )
    sandbox.admin("POST", "/_sandbox/settings", json={"link_ttl": 1})
    result = sk("connect", "gmail", "--user", "u", "--interval", "0.2", "--timeout", "20")
    assert result.exit_code == 1, result.stderr
    assert "not an https:// URL" in assert_one_error_line(result)
    assert "javascript:" not in result.stdout
