"""The MCP SDK is an extra, loaded by `sk mcp serve` alone: `sk --help`, `sk token` and the
rest of sk start without it, and without it `sk mcp serve` says what to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import SK


def imported_modules(*args: str, env: dict[str, str]) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(SK), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    modules = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    assert modules, done.stderr
    return modules


@pytest.mark.parametrize(
    "args",
    [["--help"], ["token", "gmail", "--user", "user_123"], ["mcp", "--help"]],
    ids=["help", "token", "mcp-help"],
)
def test_mcp_sdk_is_not_imported(sk_env, args):
    import os

    modules = imported_modules(*args, env={**os.environ, **sk_env})
    loaded = {name for name in modules if name.split(".")[0] in ("mcp", "mcp_types", "httpx2")}
    assert loaded == set()
    if args[0] == "token":
        assert "scalekit_cli.scalekit.transport" in modules  # it did run the command


def test_serve_without_the_sdk_names_the_extra(sk_env, tmp_path):
    import os

    # `sys.modules["mcp"] = None` is how an absent package looks to the import system.
    script = (
        "import sys; sys.modules['mcp'] = None; sys.argv = ['sk', 'mcp', 'serve', '--user', 'u'];"
        "from scalekit_cli.cli.main import main; sys.exit(main())"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **sk_env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 5
    assert done.stdout == ""
    # The install command for this checkout's editable install (install_hint.py).
    checkout = Path(__file__).resolve().parents[2]
    assert done.stderr.strip() == (
        f"sk: sk mcp serve needs the MCP SDK: {sys.executable} -m pip install -e '{checkout}[mcp]'"
    )


def test_an_unreadable_catalogue_is_one_line_and_exit_1(sk_process, sandbox):
    sandbox.fault(path="/api/v1/tools", kind="status", status=500, times=None)
    done = sk_process("mcp", "serve", "--user", "user_123", input="")
    assert done.exit_code == 1
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("sk: GET /api/v1/tools failed")


def test_a_port_in_use_is_one_line_and_exit_1(sk_process):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = sk_process(
            "mcp", "serve", "--user", "user_123", "--transport", "http", "--port", port
        )
    assert done.exit_code == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"sk: cannot listen on 127.0.0.1:{port}")
