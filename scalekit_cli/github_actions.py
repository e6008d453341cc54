"""GitHub Actions integration: masking revealed secrets in the job log, and handing values to
later steps through `$GITHUB_ENV` / `$GITHUB_OUTPUT`.

Workflow commands are documented at
https://docs.github.com/actions/reference/workflow-commands-for-github-actions.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from .errors import CliError, ExitCode

VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FILE_VARIABLES = {"env": "GITHUB_ENV", "output": "GITHUB_OUTPUT"}


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    return (os.environ if environ is None else environ).get("GITHUB_ACTIONS") == "true"


def _escape_data(value: str) -> str:
    # The runner unescapes command data; without this a value holding "%0A" would be
    # unescaped into a different string and the real one left unmasked.
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def mask_commands(value: str) -> list[str]:
    """`::add-mask::` lines for a value; one per line of it, since the runner masks line by
    line and a multi-line secret is otherwise shown in pieces."""
    lines = [line for line in value.splitlines() if line.strip()] or [value]
    return [f"::add-mask::{_escape_data(line)}" for line in lines if line]


def add_mask(stream: TextIO, value: str) -> None:
    for command in mask_commands(value):
        stream.write(command + "\n")
    stream.flush()


def validate_name(name: str, flag: str) -> str:
    if not VARIABLE_NAME.fullmatch(name):
        raise CliError(
            f"{flag} {name!r} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)", ExitCode.USAGE
        )
    return name


def delimited_entry(name: str, value: str) -> str:
    """`NAME<<DELIM\\nVALUE\\nDELIM\\n` with a random delimiter that does not occur in the
    value, so no value (multi-line, or crafted) can end the entry early and inject others."""
    while True:
        delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
        if delimiter not in value and delimiter not in name:
            return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def target_file(kind: str, environ: Mapping[str, str] | None = None) -> Path:
    """The file named by $GITHUB_ENV (kind "env") or $GITHUB_OUTPUT ("output"); exit 5 when
    the variable is unset (not in a workflow step)."""
    variable = FILE_VARIABLES[kind]
    target = (os.environ if environ is None else environ).get(variable, "")
    if not target:
        raise CliError(
            f"--to-github-{kind} needs ${variable}, which GitHub Actions sets in a workflow step; "
            "it is not set here",
            ExitCode.CONFIG,
        )
    return Path(target)


def append_entry(
    kind: str, name: str, value: str, environ: Mapping[str, str] | None = None
) -> Path:
    """Append `name`'s entry to the $GITHUB_ENV or $GITHUB_OUTPUT file."""
    path = target_file(kind, environ)
    try:
        # The runner creates these files; should one be missing, it is created private.
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8", newline="\n") as handle:
            handle.write(delimited_entry(name, value))
    except OSError as exc:
        raise CliError(
            f"cannot append to ${FILE_VARIABLES[kind]} ({path}): {exc.strerror}", ExitCode.CONFIG
        ) from None
    return path
