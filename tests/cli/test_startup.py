"""Start-up loads only what the invoked command needs: its own module (not every command's),
and neither pydantic (which Typer converts values with) nor an HTTP library for `--help`; the
commands themselves speak HTTP through httpx (scalekit/http.py), without its command-line
module (scalekit_cli/httpx_lean.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scalekit_cli.cli.app import COMMANDS

PROBE = """
import json, sys
from scalekit_cli.cli.main import main
main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.startswith("scalekit_cli.commands."))
heavy = [
    m
    for m in (
        "pydantic", "httpx", "httpcore", "h11", "rich", "starlette", "keyring", "certifi",
        "httpx._main",
    )
    if sys.modules.get(m) is not None  # None: marked absent, as httpx_lean.py marks httpx._main
]
sys.stderr.write("\\nLOADED " + json.dumps({"commands": loaded, "heavy": heavy}) + "\\n")
"""
SHARED = {"scalekit_cli.commands._common", "scalekit_cli.commands.runner"}


def loaded_by(*args: str, env: dict[str, str] | None = None) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    lines = done.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("LOADED "), done.stderr
    seen = json.loads(lines[-1].removeprefix("LOADED "))
    seen["stdout"], seen["stderr"] = done.stdout, "\n".join(lines[:-1])
    return seen


def imported_by(module: str) -> set[str]:
    """The command modules that importing `module` alone loads (its own imports)."""
    probe = (
        f"import sys, {module}; "
        "print(' '.join(m for m in sys.modules if m.startswith('scalekit_cli.commands.')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


@pytest.mark.parametrize("entry", COMMANDS, ids=lambda entry: entry.name)
def test_a_commands_help_loads_its_own_module_only(entry):
    seen = loaded_by(entry.name, "--help")
    own = f"scalekit_cli.commands.{entry.module}"
    assert own in seen["commands"]
    # Nothing beyond what the module itself imports (`sk token`: also its Typer signature).
    allowed = imported_by(own) | SHARED | {"scalekit_cli.commands.token_cli"}
    assert set(seen["commands"]) <= allowed, seen
    assert len(seen["commands"]) < len(COMMANDS), seen
    assert seen["heavy"] == [], seen


def test_the_root_help_loads_no_command():
    seen = loaded_by("--help")
    assert (seen["commands"], seen["heavy"]) == ([], [])


def test_running_a_command_needs_no_pydantic(sk_env):
    # Text, flags and plain numbers need no conversion; the run fails (nothing listens at the
    # port), after parsing every kind of value.
    env = {**sk_env, "SCALEKIT_ENV_URL": "http://127.0.0.1:9"}
    seen = loaded_by("gmail", "unread", "--user", "u", "--limit", "20", "--json", env=env)
    assert "pydantic" not in seen["heavy"], seen
    seen = loaded_by("connect", "gmail", "-u", "u", "--timeout", "1.5", "--no-wait", env=env)
    assert "pydantic" not in seen["heavy"], seen


def test_a_token_read_speaks_through_httpx_without_its_cli(sk_env, driver):
    """`sk token` sends its requests with httpx — the one HTTP client — and does not load
    httpx's own command line, nor rich and pygments behind it (encode/httpx#3547)."""
    token = driver.connect("gmail", "startup")["authorization_details"]["oauth_token"]
    for _run in ("cold: fetches the machine token", "warm: reads the account only"):
        seen = loaded_by("token", "gmail", "--user", "startup", "--debug", env=sk_env)
        assert seen["stdout"].strip() == token["access_token"], seen["stderr"]
        # certifi: imported by httpcore (its bundle is read only for an https connection).
        assert seen["heavy"] == ["httpx", "httpcore", "h11", "certifi"], seen
