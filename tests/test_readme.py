"""The README's examples run as written on the embedded sandbox.

The README promises that every example of its commands table runs as it stands with
`SCALEKIT_ENV_URL=sandbox`, and that the quickstart's next steps run after `make demo`. This
test reads both out of README.md (so a new example is tested the day it is written) and runs
each with the installed `sk`, in the README's order, on one fresh sandbox state.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from scalekit_cli.sandbox.hosted_form import approve_as_browser
from tests.cli.conftest import SK

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# A row of the commands table: | `name` | what | `example` |
TABLE_ROW = re.compile(r"^\| `[a-z][^|]*\| [^|]+ \| `(?P<example>sk [^`]+)` \|$")
QUICKSTART_PREFIX = ".venv/bin/sk --sandbox "


def table_examples(text: str) -> list[str]:
    return [m["example"] for line in text.splitlines() if (m := TABLE_ROW.match(line))]


def quickstart_examples(text: str) -> list[str]:
    """The `.venv/bin/sk --sandbox …` lines of the README's code blocks, comments removed."""
    found = []
    for line in text.splitlines():
        if line.startswith(QUICKSTART_PREFIX):
            words = shlex.split(line, comments=True)
            found.append(shlex.join(["sk", *words[1:]]))
    return found


@pytest.fixture
def sandbox_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALEKIT_", "SK_"))}
    env.update(
        SCALEKIT_ENV_URL="sandbox",
        SK_CACHE_DIR=str(tmp_path / "cache"),
        SK_DATA_DIR=str(tmp_path / "data"),
        SK_CONFIG_DIR=str(tmp_path / "config"),
        HOME=str(tmp_path / "home"),  # `sk mcp install --dry-run` reads the host's file there
        NO_COLOR="1",
    )
    (tmp_path / "home").mkdir()
    return env


def run_example(example: str, env: dict[str, str], cwd: Path) -> None:
    words = shlex.split(example)
    assert words[0] == "sk", example
    argv = [str(SK), *words[1:]]
    if words[1] == "connect":  # it waits for the user: be the user, pressing Allow
        process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stdout is not None
        link = process.stdout.readline().strip()
        assert link.startswith("http"), (example, link)
        approve_as_browser(link)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, (example, err)
        return
    done = subprocess.run(
        argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, (example, done.stderr)
    assert "Traceback" not in done.stderr, (example, done.stderr)


def test_the_readme_has_an_example_for_every_command():
    from scalekit_cli.cli.app import COMMANDS

    examples = table_examples(README.read_text(encoding="utf-8"))
    named = {shlex.split(example)[1] for example in examples}
    tabled = {
        name.strip("` ")
        for line in README.read_text(encoding="utf-8").splitlines()
        if TABLE_ROW.match(line)
        for name in line.split("|")[1].split("/")
    }
    missing = [c.name for c in COMMANDS if c.name not in named and c.name not in tabled]
    assert not missing, f"commands without a row in the README's table: {missing}"
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 300


def test_every_readme_example_runs_as_written_on_the_sandbox(sandbox_env, tmp_path):
    text = README.read_text(encoding="utf-8")
    table = table_examples(text)
    quickstart = quickstart_examples(text)
    assert len(table) >= 15 and len(quickstart) >= 3, (table, quickstart)
    # The table from a fresh state, as its preamble says (its connect line is the user's
    # first: a link is printed and approved); then the quickstart's lines after `make demo`.
    assert table[0].startswith("sk connect "), table[0]
    for example in [*table, "sk demo", *quickstart]:
        run_example(example, sandbox_env, tmp_path)
