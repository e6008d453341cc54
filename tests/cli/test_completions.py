"""Shell completion: Click's scripts, answered by `sk` itself on each TAB.

The scripts are exercised in the real shells (bash always; zsh and fish when installed —
.ci/install-shells installs them for CI), the packagers' copies in completions/ are held to
what `sk completion SHELL` prints, and sourcing a script prints nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import SK, assert_no_leak
from tests.conftest import CANARY_CLIENT_SECRET

ROOT = Path(__file__).resolve().parents[2]
COMPLETIONS = ROOT / "completions"
FILES = {"bash": "sk.bash", "zsh": "_sk", "fish": "sk.fish", "powershell": "sk.ps1"}


@pytest.fixture
def shell_env(sk_process) -> dict[str, str]:
    """The test's sk environment, with the installed `sk` first on PATH (the scripts call it
    by name, as in a user's shell)."""
    return {**sk_process.env, "PATH": f"{SK.parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def _bash_complete(env: dict[str, str], cwd: Path, *words: str) -> list[str]:
    """COMPREPLY after sourcing `sk completion bash` and pressing TAB after `sk WORDS…`
    (the last word is the one being completed)."""
    quoted = " ".join("'" + word.replace("'", "'\\''") + "'" for word in words)
    script = (
        'eval "$(sk completion bash)"\n'
        f"COMP_WORDS=(sk {quoted}); COMP_CWORD={len(words)}\n"
        "_sk_completion sk\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "--norc", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_bash_completes_commands_options_choices_and_files(shell_env, tmp_path):
    (tmp_path / "state.db").write_text("")
    (tmp_path / "body.json").write_text("{}")
    assert "connect" in _bash_complete(shell_env, tmp_path, "")
    assert _bash_complete(shell_env, tmp_path, "gmail", "un") == ["unread"]
    assert _bash_complete(shell_env, tmp_path, "sta") == ["status"]
    assert "--limit" in _bash_complete(shell_env, tmp_path, "gmail", "unread", "--l")
    # The global options, at every level.
    assert "--env-url" in _bash_complete(shell_env, tmp_path, "status", "--e")
    assert _bash_complete(shell_env, tmp_path, "mcp", "serve", "--transport", "") == [
        "stdio",
        "http",
    ]
    assert _bash_complete(shell_env, tmp_path, "sandbox", "force", "g", "--status", "EX") == [
        "EXPIRED"
    ]
    assert "claude-code" in _bash_complete(shell_env, tmp_path, "mcp", "install", "")
    # A file path after `-d @`; after --state and --workspace, sk hands over to the shell's
    # own file and folder completion (bash: `compopt -o default`, which only a TAB can run).
    assert _bash_complete(shell_env, tmp_path, "request", "gmail", "-d", "@bo") == ["@body.json"]
    assert _answers(shell_env, "sandbox", "serve", "--state", "sta") == ["file,sta"]
    assert _answers(shell_env, "mcp", "install", "vscode", "--workspace", "") == ["dir,"]


def _answers(env: dict[str, str], *words: str) -> list[str]:
    """What `sk` answers the bash script for a TAB after `sk WORDS…`."""
    done = subprocess.run(
        [str(SK)],
        env={
            **env,
            "_SK_COMPLETE": "bash_complete",
            "COMP_WORDS": " ".join(("sk", *words)),
            "COMP_CWORD": str(len(words)),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_connector_and_tool_names_come_from_the_environment(shell_env, tmp_path, driver):
    driver.connect("gmail", "u")
    names = _bash_complete(shell_env, tmp_path, "token", "gm")
    assert names == ["gmail"]
    assert "gmail_fetch_mails" in _bash_complete(shell_env, tmp_path, "exec-tool", "gmail_f")


def test_an_unreachable_environment_completes_nothing_and_says_nothing(shell_env, tmp_path):
    env = {**shell_env, "SCALEKIT_ENV_URL": "http://127.0.0.1:9", "SK_DEBUG": "1"}
    assert _bash_complete(env, tmp_path, "token", "gm") == []
    # A TAB never prints a secret, even when the environment refuses the credentials.
    done = subprocess.run(
        [str(SK)],
        env={**env, "_SK_COMPLETE": "bash_complete", "COMP_WORDS": "sk token g", "COMP_CWORD": "2"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stderr == ""
    assert_no_leak(done.stdout + done.stderr, CANARY_CLIENT_SECRET)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_sourcing_the_script_prints_nothing(shell, shell_env, tmp_path):
    """`eval "$(sk completion bash)"` in ~/.bashrc runs in every new shell: silent."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed here (.ci/install-shells installs it)")
    load = {
        "bash": 'eval "$(sk completion bash)"',
        "zsh": 'autoload -Uz compinit && compinit -u && eval "$(sk completion zsh)"',
        "fish": "sk completion fish | source",
    }[shell]
    done = subprocess.run(
        [shell, "-c", load],
        capture_output=True,
        text=True,
        env={**shell_env, "HOME": str(tmp_path)},
        cwd=tmp_path,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_the_install_hint_only_on_a_terminal(sk_process):
    # stdout a pipe (`eval "$(…)"`, a redirect): the script alone, nothing on stderr.
    result = sk_process("completion", "bash")
    assert result.exit_code == 0 and result.stderr == ""
    assert "_sk_completion" in result.stdout and "install" not in result.stdout


def test_sk_completion_prints_what_completions_holds(sk_process):
    """completions/ (for packagers) holds exactly what `sk completion SHELL` prints."""
    for shell, name in FILES.items():
        result = sk_process("completion", shell)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == (COMPLETIONS / name).read_text(encoding="utf-8"), (
            f"completions/{name} is stale: run `make completions`"
        )


def test_make_completions_regenerates_the_same_files(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "completions.py"), str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    for name in FILES.values():
        assert (tmp_path / name).read_bytes() == (COMPLETIONS / name).read_bytes(), name


def test_powershell_answers_in_its_script_format(shell_env, tmp_path):
    done = subprocess.run(
        [str(SK)],
        env={
            **shell_env,
            "_SK_COMPLETE": "powershell_complete",
            "COMP_WORDS": "sk gmail un",
            "COMP_CWORD": "un",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    (answer,) = done.stdout.splitlines()
    assert answer.startswith("plain\tunread\tList unread mail")


def test_sk_completion_of_an_unknown_shell_is_a_usage_error(sk):
    result = sk("completion", "tcsh")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "sk: no completion for 'tcsh': use bash, zsh, fish, powershell"
    ]
    assert result.stdout == ""


def test_a_silent_environment_holds_a_tab_only_briefly(shell_env, tmp_path):
    """A server that accepts the connection and never answers: the TAB completes without the
    names once FETCH_TIMEOUT is up, long before sk's own HTTP timeout (10 s here) would."""
    import socket
    import time

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections wait in the backlog; nothing ever reads them
        env = {**shell_env, "SCALEKIT_ENV_URL": f"http://127.0.0.1:{silent.getsockname()[1]}"}
        started = time.monotonic()
        assert _answers(env, "token", "gm") == []
        assert time.monotonic() - started < 8
