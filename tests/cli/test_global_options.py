"""The global options (--sandbox, --env-url, --client-id, --profile, --json, --debug, -v) are
accepted before or after the sub-command, for every command, with the same meaning.

The table is the command tree itself: every command found by walking the Typer app, every
global option, in every position. Each command line goes through the console script's own
`main`, and what reaches the command is recorded at the one place every command runs through
(`run_command`), instead of running it. Other tests below run real commands against the
sandbox with the options after the command.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from scalekit_cli.cli.app import COMMANDS, leaf_commands
from scalekit_cli.cli.global_options import GLOBAL_OPTIONS, GlobalClickOption, GlobalOption
from scalekit_cli.cli.main import main

VALUES = {"env_url": "http://127.0.0.1:7", "client_id": "skc_probe", "profile": "probe"}


def required_args(command: Any) -> list[str]:
    """The least a command line needs to reach the command: every required parameter."""
    args: list[str] = []
    for param in command.params:
        if not param.required or isinstance(param, GlobalClickOption):
            continue
        if param.param_type_name == "argument":
            args.append("1")
        else:
            args += [param.opts[0], "1"]
    return args


def option_tokens(option: GlobalOption) -> list[str]:
    name = option.names[-1]
    return [name, VALUES[option.dest]] if option.takes_value else [name]


@pytest.fixture
def recorded(monkeypatch) -> list[dict[str, Any]]:
    """What each command would have run with: its options, the flags, the output modes."""
    calls: list[dict[str, Any]] = []

    def record(run, options, flags, *, json_mode=False, verbose=False, debug=False) -> int:
        calls.append(
            {
                "run": f"{run.__module__}.{run.__name__}",
                "options": repr(options),
                "flags": dataclasses.asdict(flags),
                "json": json_mode,
                "verbose": verbose,
                "debug": debug,
            }
        )
        return 0

    monkeypatch.setattr("scalekit_cli.commands._common.run_command", record)
    monkeypatch.setattr("scalekit_cli.commands.token.run_command", record)
    return calls


def _call(recorded: list[dict[str, Any]], argv: list[str]) -> dict[str, Any]:
    recorded.clear()
    code = main(argv)
    assert code == 0 and len(recorded) == 1, (argv, code)
    return recorded[0]


LEAVES = leaf_commands()


@pytest.mark.parametrize("option", GLOBAL_OPTIONS, ids=lambda o: o.names[-1])
@pytest.mark.parametrize(("path", "command"), LEAVES, ids=[" ".join(p) for p, _ in LEAVES])
def test_every_global_option_means_the_same_before_and_after_every_command(
    recorded, path, command, option
):
    rest = required_args(command)
    tokens = option_tokens(option)
    without = _call(recorded, [*path, *rest])
    positions = {
        "before": [*tokens, *path, *rest],
        "right after": [*path, *tokens, *rest],
        "at the end": [*path, *rest, *tokens],
    }
    if len(path) > 1:
        positions["between"] = [path[0], *tokens, *path[1:], *rest]
    seen = {where: _call(recorded, argv) for where, argv in positions.items()}
    first = seen["before"]
    for where, call in seen.items():
        assert call == first, f"{where}: {call} != {first}"
    assert first != without, "the option changed nothing"
    # The meaning: the setting the root hands every command, or the command's own parameter
    # of that name (sk login --profile, sk sandbox serve --client-id) given the same value.
    if option.takes_value:
        value = VALUES[option.dest]
        assert first["flags"][option.dest] == value or repr(value) in first["options"]
    elif option.dest == "sandbox":
        assert first["flags"]["sandbox"] is True
    else:
        assert first[option.dest] is True


def test_the_table_covers_every_command():
    names = {path[0] for path, _ in LEAVES}
    assert names == {entry.name for entry in COMMANDS}
    assert ("gmail", "unread") in [path for path, _ in LEAVES]


def test_the_options_are_declared_once():
    """Every command carries the same Click options, made from GLOBAL_OPTIONS, for each global
    option it does not declare itself; none is a parameter of its function."""
    for path, command in LEAVES:
        carried = [p for p in command.params if isinstance(p, GlobalClickOption)]
        own = {n for p in command.params if p not in carried for n in (*p.opts, *p.secondary_opts)}
        expected = [o for o in GLOBAL_OPTIONS if not set(o.names) & own]
        assert [p.global_option for p in carried] == expected, path
        assert all(not p.expose_value for p in carried)


def test_nothing_after_a_double_dash_is_taken(recorded):
    call = _call(recorded, ["run", "gmail", "--user", "u", "--", "cmd", "--json", "-v", "--debug"])
    assert not call["json"] and not call["verbose"] and not call["debug"]
    assert "'cmd', '--json', '-v', '--debug'" in call["options"]
    # Before the `--` they are sk's.
    call = _call(recorded, ["run", "gmail", "--user", "u", "-v", "--", "cmd", "--json"])
    assert call["verbose"] and not call["json"]


def test_a_value_option_takes_the_next_word_even_if_it_looks_like_a_flag(recorded):
    call = _call(recorded, ["status", "--user", "--json"])
    assert "'--json'" in call["options"] and not call["json"]


def test_a_flag_given_a_value_is_refused(sk):
    result = sk("sandbox", "reset", "--json=1")
    assert result.exit_code == 2 and result.stderr.startswith("sk: ")


def test_the_last_value_wins_wherever_each_stands(recorded):
    call = _call(
        recorded,
        [
            "--env-url",
            "http://127.0.0.1:1",
            "status",
            "--user",
            "u",
            "--env-url",
            VALUES["env_url"],
        ],
    )
    assert call["flags"]["env_url"] == VALUES["env_url"]
    # The same option given twice at one level: the last.
    call = _call(recorded, ["status", "--user", "u", "--profile", "a", "--profile", "b"])
    assert call["flags"]["profile"] == "b"
    # sk login declares --profile itself: given before `login` too, the later one counts.
    call = _call(recorded, ["--profile", "a", "login", "--profile", "b", "--client-id", "x"])
    assert "'b'" in call["options"] and call["flags"]["profile"] is None


def test_a_global_option_without_its_value_is_one_usage_line(sk):
    result = sk("status", "--user", "u", "--env-url")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "sk: option '--env-url' requires an argument (see 'sk --help')"
    ]


def test_global_options_after_the_command_reach_the_sandbox(sk_process, driver, sandbox):
    account = driver.connect("gmail", "u")
    token = account["authorization_details"]["oauth_token"]["access_token"]
    result = sk_process("status", "gmail", "--user", "u", "--json", "--env-url", sandbox.url)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "ACTIVE"
    # --json and --debug after `token`, then a wrong environment after everything.
    result = sk_process("token", "gmail", "--user", "u", "--json", "--debug")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["access_token"] == token
    wrong = sk_process("token", "gmail", "--user", "u", "--env-url", "http://127.0.0.1:9")
    assert wrong.exit_code == 1 and "cannot reach 127.0.0.1" in wrong.stderr
