"""Exit codes and the error a command raises to end with one line on stderr."""

from __future__ import annotations

import shlex
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # API or network failure
    USAGE = 2  # bad usage or input
    NOT_CONNECTED = 3  # account not ACTIVE or not found — run `sk connect`
    TIMED_OUT = 4  # timed out waiting for authorization
    CONFIG = 5  # missing, invalid or rejected credentials or configuration
    INTERRUPTED = 130


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwinds like Ctrl-C (clean-ups run, no `except Exception`
    swallows it) and ends the process with `sk: terminated` and 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class CliError(Exception):
    """Ends the command: `message` becomes the one line on stderr."""

    def __init__(self, message: str, exit_code: int = ExitCode.FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = int(exit_code)


def shell_word(text: str) -> str:
    """`text` quoted for a POSIX shell. Text with characters a terminal does not show as they
    are (line separators, bidi controls that reorder the line) is written as bash's $'…'
    with those characters escaped, so the command is one line that reads as it runs."""
    if text.isprintable():
        return shlex.quote(text)
    escaped = []
    for char in text:
        if char in "\\'":
            escaped.append("\\" + char)
        elif char.isprintable():
            escaped.append(char)
        elif ord(char) <= 0xFFFF:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(f"\\U{ord(char):08x}")
    return "$'" + "".join(escaped) + "'"


def connect_command(connector: str, identifier: str, *, prefix: str = "sk") -> str:
    """The exact command that connects an account, quoted for a POSIX shell; `prefix` carries
    the root options the user gave (`sk --env-url … --client-id …`), so it runs as printed."""
    return f"{prefix} connect {shell_word(connector)} --user {shell_word(identifier)}"


def not_connected(
    connector: str, identifier: str, status: str | None, *, prefix: str = "sk"
) -> CliError:
    state = f"is {status}" if status else "does not exist"
    return CliError(
        f"the {connector} account of {identifier!r} {state}; run: "
        + connect_command(connector, identifier, prefix=prefix),
        ExitCode.NOT_CONNECTED,
    )
