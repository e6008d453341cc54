"""`sk token`'s fast path (scalekit_cli/fastpath.py) behaves exactly as the Typer app.

The installed console script takes the fast path whenever it understands the arguments; the
same `main` with `fast=False` always builds the Typer app. Both are run as processes with the
same environment and must print the same bytes and exit with the same code.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys

import pytest

from scalekit_cli import fastpath
from scalekit_cli.cli.app import load, shape_of
from scalekit_cli.cli.global_options import GlobalValues
from scalekit_cli.commands.token import run_from_cli
from tests.cli.conftest import SK, SkProcess, SkResult

TYPER_PATH = (
    "import sys; from scalekit_cli.cli.main import main; sys.exit(main(sys.argv[1:], fast=False))"
)


def typer_path(sk_process: SkProcess, *args: str, env: dict[str, str] | None = None) -> SkResult:
    done = subprocess.run(
        [sys.executable, "-c", TYPER_PATH, *args],
        env={**sk_process.env, **(env or {})},
        cwd=sk_process.cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return SkResult(done.returncode, done.stdout, done.stderr)


def comparable(result: SkResult) -> tuple[int, str, str]:
    """Everything but the timings of --verbose trace lines."""
    return (
        result.exit_code,
        result.stdout,
        re.sub(r"\bin \d+ ms\b", "in N ms", result.stderr),
    )


def _options(params: list) -> dict[str, tuple[frozenset[str], bool]]:
    """Typer parameter name → (its option strings, whether it is a flag), options only."""
    return {
        param.name: (frozenset(param.opts), bool(getattr(param, "is_flag", False)))
        for param in params
        if param.param_type_name == "option" and param.name not in ("help", "version")
    }


def _tables(flags: dict[str, str], values: dict[str, str]) -> dict[str, tuple[frozenset, bool]]:
    names: dict[str, tuple[set[str], bool]] = {}
    for table, is_flag in ((flags, True), (values, False)):
        for option, name in table.items():
            names.setdefault(name, (set(), is_flag))[0].add(option)
    return {name: (frozenset(options), is_flag) for name, (options, is_flag) in names.items()}


def test_the_fast_path_knows_exactly_the_typer_parameters():
    token = load("token")
    assert _options(token.params) == _tables(fastpath.TOKEN_FLAGS, fastpath.TOKEN_VALUES)
    for param in token.params:
        assert param.nargs == 1 and not param.multiple, param.name
    # The fast path and the Typer app read the command line against the same shape.
    shape = shape_of(token)
    assert shape.values == fastpath.TOKEN_SHAPE.values
    assert shape.flags - {"-h", "--help"} == fastpath.TOKEN_SHAPE.flags
    # The parsed names are handed on as keywords: run_from_cli(**params).
    token_names = {param.name for param in token.params if param.name != "help"}
    assert token_names == set(inspect.signature(run_from_cli).parameters) - {"flags"}
    assert [p.name for p in token.params if p.param_type_name == "argument"] == ["connector"]


@pytest.mark.parametrize(
    ("args", "root", "params"),
    [
        (["token", "gmail", "--user", "u"], {}, {"connector": "gmail", "user": "u"}),
        (["token", "--user=u", "gmail"], {}, {"connector": "gmail", "user": "u"}),
        (
            ["--sandbox", "--env-url", "http://127.0.0.1:1", "token", "-u", "a=b", "slack", "-v"],
            {"sandbox": True, "env_url": "http://127.0.0.1:1"},
            {"user": "a=b", "connector": "slack", "verbose": True},
        ),
        (
            ["token", "x", "-u", "u", "--field", "scopes", "--json", "--debug"],
            {},
            {"connector": "x", "user": "u", "field": "scopes", "json_mode": True, "debug": True},
        ),
        # The global options, after the command as before it.
        (
            ["token", "gmail", "--user", "u", "--sandbox", "--profile=p", "--client-id", "c"],
            {"sandbox": True, "profile": "p", "client_id": "c"},
            {"connector": "gmail", "user": "u"},
        ),
        (
            ["--json", "--debug", "-v", "token", "gmail", "--user", "u"],
            {},
            {"connector": "gmail", "user": "u", "json_mode": True, "debug": True, "verbose": True},
        ),
        (
            ["--sandbox", "--sandbox", "token", "g", "-u", "u"],
            {"sandbox": True},
            {"connector": "g", "user": "u"},
        ),
    ],
)
def test_plain_command_lines_take_the_fast_path(args, root, params):
    call = fastpath.parse(args)
    assert call is not None
    assert (call.root, call.params) == (GlobalValues(**root), params)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--help"],
        ["--version"],
        ["token"],
        ["token", "--help"],
        ["token", "-h", "gmail", "--user", "u"],
        ["token", "gmail"],  # --user missing: Typer's usage error
        ["token", "gmail", "extra", "--user", "u"],
        ["token", "gmail", "--user", "u", "--user", "v"],
        ["token", "gmail", "-v", "--verbose", "--user", "u"],
        ["token", "gmail", "--user", "-x"],
        ["token", "gmail", "--user", ""],  # refused by --user's parser: Typer's usage error
        ["token", "gm!il", "--user", "u"],  # refused by CONNECTOR's parser
        ["token", "gmail", "--user"],
        ["token", "gmail", "-u=u"],
        ["token", "gmail", "-uu"],
        ["token", "gmail", "-vu", "u"],
        ["token", "gmail", "--json=1", "--user", "u"],
        ["token", "--", "gmail", "--user", "u"],
        ["token", "gmail", "--user", "u", "--env-url"],
        ["token", "gmail", "--user", "u", "--nope"],
        ["--nope", "token", "gmail", "--user", "u"],
        ["status", "gmail", "--user", "u"],
        ["token", "gmail", "--user", "caf\udce9"],  # an undecodable byte
    ],
)
def test_anything_else_is_left_to_typer(args):
    assert fastpath.parse(args) is None


def test_completion_requests_are_left_to_typer(monkeypatch):
    monkeypatch.setenv(fastpath.COMPLETE_VARIABLE, "bash_complete")
    assert fastpath.parse(["token", "gmail", "--user", "u"]) is None


@pytest.fixture
def warm(sk_process, driver) -> SkProcess:
    """A connected gmail account and a warm machine-token cache, so both paths make the same
    requests."""
    driver.connect("gmail", "u")
    driver.connect("exa", "k", fill={"api_key": "exa-key-1234567890"})
    assert sk_process("token", "gmail", "--user", "u", "--debug").exit_code == 0
    return sk_process


CASES = [
    ("token", "gmail", "--user", "u"),
    ("token", "gmail", "--user", "u", "--debug"),
    ("token", "--user=u", "gmail", "--json"),
    ("token", "gmail", "-u", "u", "--json", "--debug"),
    ("token", "gmail", "--user", "u", "--field", "scopes"),
    ("token", "gmail", "--user", "u", "--field", "refresh_token", "--debug"),
    ("token", "gmail", "--user", "u", "-v"),
    ("token", "gmail", "--user", "u", "--verbose", "--debug"),
    ("token", "exa", "--user", "k", "--debug"),
    ("token", "gmail", "--user", "u", "--field", "nope"),
    ("token", "gmail", "--user", "nobody"),
    ("token", "gm!il", "--user", "u"),
    ("token", "gmail", "--user", ""),
    ("token", "gmail", "--user", "u", "--to-github-env", "TOKEN"),
    ("token", "gmail", "--user", "u", "--json", "--to-github-output", "token"),
    ("token", "gmail", "--user", "u", "--to-github-env", ""),
    ("--profile", "", "token", "gmail", "--user", "u"),
    ("--env-url", "http://example.com", "token", "gmail", "--user", "u"),
    ("--env-url", "http://127.0.0.1:9", "token", "gmail", "--user", "u"),
    ("--client-id", "skc_other", "token", "gmail", "--user", "u"),
    ("--profile", "nope", "token", "gmail", "--user", "u"),
    ("--sandbox", "token", "gmail", "--user", "u"),
    ("token", "gmail", "--user", "u", "--env-url", "http://127.0.0.1:9"),
    ("token", "gmail", "--profile", "nope", "--user", "u"),
    ("--json", "token", "gmail", "--user", "u"),
    ("token", "gmail", "--user", "u", "--env-url"),
    # Left to Typer by the fast path; here to show the console script still answers them.
    ("token", "gmail"),
    ("token", "gmail", "--user", "-u"),
    ("token", "--help"),
]


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_both_paths_answer_alike(warm, args):
    fast, slow = warm(*args), typer_path(warm, *args)
    assert comparable(fast) == comparable(slow)


def test_both_paths_answer_alike_without_credentials(warm):
    unset = {"SCALEKIT_ENV_URL": "", "SCALEKIT_CLIENT_ID": "", "SCALEKIT_CLIENT_SECRET": ""}
    args = ("token", "gmail", "--user", "u")
    fast, slow = warm(*args, env=unset), typer_path(warm, *args, env=unset)
    assert fast.exit_code == 5
    assert comparable(fast) == comparable(slow)


def _with_closed_stdout(argv: list[str], env: dict[str, str], cwd) -> tuple[int, str]:
    read_end, write_end = os.pipe()
    os.close(read_end)  # closed before sk writes: its first write fails with EPIPE
    try:
        done = subprocess.run(
            argv, env=env, cwd=cwd, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60
        )
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


def test_a_closed_stdout_ends_alike(warm):
    args = ["token", "gmail", "--user", "u", "--debug"]
    fast = _with_closed_stdout([str(SK), *args], warm.env, warm.cwd)
    slow = _with_closed_stdout([sys.executable, "-c", TYPER_PATH, *args], warm.env, warm.cwd)
    assert fast == slow
    assert fast[0] == 1 and "Traceback" not in fast[1]


def test_the_fast_path_makes_one_request_and_loads_no_typer(warm, sandbox):
    sandbox.clear_requests()
    probe = (
        "import sys; from scalekit_cli.cli.main import main; code = main(sys.argv[1:]); "
        "heavy = ('typer', 'click', 'pydantic', 'rich', 'starlette', 'uvicorn', 'keyring', "
        "'dotenv'); sys.stderr.write('LOADED ' + ' '.join(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "token", "gmail", "--user", "u", "--debug"],
        env=warm.env,
        cwd=warm.cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("LOADED"), done.stderr
    assert [(r["method"], r["path"]) for r in sandbox.requests()] == [
        ("GET", "/api/v1/connected_accounts/auth")
    ]


def test_help_loads_no_http_stack():
    probe = (
        "import sys; from scalekit_cli.cli.main import main; main(['--help']); "
        "heavy = ('httpx', 'httpcore', 'ssl', 'rich', 'starlette', 'uvicorn', 'keyring', "
        "'dotenv'); sys.stderr.write('LOADED ' + ' '.join(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stderr.strip().endswith("LOADED"), done.stderr
