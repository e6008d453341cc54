"""Usage errors end in one line and exit 2; identifiers are arbitrary text, sent exactly."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import assert_one_error_line

IDENTIFIERS = [
    "user+tag@example.com",
    "with space",
    "a/b?c&d#e=f%20g",
    "Zoë Ünïcødé 日本語 😀",
    "../../etc/passwd",
    "\u200fright-to-left",
    "x" * 100,  # the longest the service's rule allows
]


@pytest.mark.parametrize("identifier", IDENTIFIERS, ids=range(len(IDENTIFIERS)))
def test_identifiers_reach_the_server_exactly(sk, driver, identifier):
    result = sk("connect", "gmail", "--user", identifier, "--no-wait", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["identifier"] == identifier
    # Read back through the API by another client: the same bytes were stored.
    assert driver.account("gmail", identifier)["identifier"] == identifier
    status = sk("status", "gmail", "--user", identifier, "--json")
    assert status.exit_code == 3 and json.loads(status.stdout)["identifier"] == identifier


def test_usage_errors_are_one_line_in_a_subprocess(sk_process):
    for args in (
        ("frobnicate",),
        ("token", "gmail", "--user", "u", "--no-such-flag"),
        ("token",),
        ("gmail", "unread", "--user", "u", "--limit", "many"),
    ):
        result = sk_process(*args)
        assert result.exit_code == 2, (args, result.stderr)
        line = assert_one_error_line(result)
        assert "--help" in line
        assert len([x for x in result.stderr.splitlines() if x.strip()]) == 1


def test_no_arguments_shows_help(sk_process):
    for args in ((), ("gmail",)):
        result = sk_process(*args)
        assert result.exit_code == 0
        assert result.stdout.startswith("Usage: sk")
        assert result.stderr == ""
