"""Shell completions in scalekit_cli/completions/ are generated from the command tree and kept
current; `sk completion SHELL` prints them from the installed package."""

from __future__ import annotations

import subprocess
from pathlib import Path

from scalekit_cli.completion_gen import render_all

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
