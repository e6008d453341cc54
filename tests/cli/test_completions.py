"""Shell completions in scalekit_cli/completions/ are generated from the command tree and kept
current; `sk completion SHELL` prints them from the installed package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from scalekit_cli.completion_gen import render_all
from tests.cli.conftest import SK

COMPLETIONS = Path(__file__).resolve().parents[2] / "scalekit_cli" / "completions"


def test_committed_completions_match_the_command_tree():
    for name, text in render_all().items():
        committed = COMPLETIONS / name
        assert committed.exists(), f"{committed} is missing: run `make completions`"
        assert committed.read_text(encoding="utf-8") == text, (
            f"{name} is stale: run `make completions`"
        )


def _bash_complete(*words: str) -> list[str]:
    script = (
        f"source {COMPLETIONS / 'sk.bash'}; COMP_WORDS=(sk {' '.join(repr(w) for w in words)}); "
        f"COMP_CWORD={len(words)}; _sk; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_bash_completes_commands_nested_commands_and_options():
    assert "connect" in _bash_complete("")
    assert _bash_complete("gmail", "un") == ["unread"]
    assert "--verify-user" in _bash_complete("connect", "gmail", "--")
    assert "--limit" in _bash_complete("gmail", "unread", "--l")


def test_sk_completion_prints_each_script_from_the_installed_package(sk_process):
    for shell, name in (
        ("bash", "sk.bash"),
        ("zsh", "_sk"),
        ("fish", "sk.fish"),
        ("powershell", "sk.ps1"),
    ):
        result = sk_process("completion", shell)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == (COMPLETIONS / name).read_text(encoding="utf-8")
    # What bash gets from it completes: sourced straight from `sk completion bash`.
    script = (
        f'eval "$({SK} completion bash)"; COMP_WORDS=(sk gmail un); COMP_CWORD=2; _sk; '
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=True, env=sk_process.env
    )
    assert done.stdout.split() == ["unread"]


def test_sk_completion_of_an_unknown_shell_is_a_usage_error(sk):
    result = sk("completion", "tcsh")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "sk: no completion for 'tcsh': use bash, zsh, fish, powershell"
    ]
    assert result.stdout == ""


def test_the_scripts_ship_in_the_wheel(tmp_path):
    """What `pip install` installs: the wheel holds the four scripts next to the code."""
    import shutil
    import zipfile

    # Built from a copy: setuptools leaves build/ behind, and must not reuse an old one.
    source = tmp_path / "source"
    shutil.copytree(
        COMPLETIONS.parents[1],
        source,
        ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__", "tests", "docs"),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("scalekit_cli-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("sk.bash", "_sk", "sk.fish", "sk.ps1"):
        assert f"scalekit_cli/completions/{name}" in names
