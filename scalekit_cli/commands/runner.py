"""The typer-free half of what every command shares: input validation, and the wrapper that
runs a command and turns any failure into one line on stderr and a documented exit code.

Kept apart from `_common` (the Typer options): none of it needs Typer.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Callable
from typing import TypeVar

from ..config import Flags
from ..errors import CliError, ExitCode
from ..output import Output
from ..runtime import Runtime
from ..scalekit import limits
from ..scalekit.errors import (
    ApiError,
    ConfigurationError,
    CredentialsRejected,
    InvalidResponse,
    NetworkError,
    ProviderError,
    ScalekitError,
    Unauthenticated,
)


def _rule_breach(value: str, max_len: int, pattern: str | None = None) -> str | None:
    """The service's wording (protovalidate's) of the first rule `value` breaks, or None."""
    if len(value) > max_len:  # code points, as protovalidate counts
        return f"must be at most {max_len} characters"
    if pattern is not None and re.search(pattern, value) is None:
        return f"does not match regex pattern `{pattern}`"
    return None


def identifier_problem(identifier: str) -> str | None:
    """What is wrong with a user's identifier as the service's rules and sk see it, or None."""
    if not identifier.strip():
        return "must not be empty"
    breach = _rule_breach(identifier, limits.IDENTIFIER_MAX_LEN)
    if breach:
        return breach
    for char in identifier:
        if unicodedata.category(char) == "Cc":
            return f"holds the control character U+{ord(char):04X}; identifiers are text"
    return None


def connector_problem(connector: str) -> str | None:
    """What is wrong with a connection's name under the service's rule, or None."""
    if connector.strip() and not _rule_breach(
        connector, limits.CONNECTOR_MAX_LEN, limits.CONNECTOR_PATTERN
    ):
        return None
    shown = connector.encode("unicode_escape").decode("ascii")[:60]
    return (
        f"{shown!r} is not valid: use letters, digits, spaces, '-', '_' or ':'"
        " (the service's rule for connector)"
    )


def account_id_problem(account_id: str) -> str | None:
    """What is wrong with a connected account's id under the service's rules, or None."""
    if not account_id.startswith(limits.ACCOUNT_ID_PREFIX):
        return f"does not have prefix `{limits.ACCOUNT_ID_PREFIX}`"
    return _rule_breach(account_id, limits.ACCOUNT_ID_MAX_LEN)


def verify_url_problem(url: str) -> str | None:
    """What is wrong with a user-verify URL under the service's rule, or None."""
    return _rule_breach(url, limits.VERIFY_URL_MAX_LEN, limits.VERIFY_URL_PATTERN)


# The same checks where no command line parsed the value, worded as the parser words them:
# `sk token`'s fast path (no Typer), the MCP server (values from its client), and a second
# look inside each command.


def validate_identifier(identifier: str) -> str:
    problem = identifier_problem(identifier)
    if problem:
        raise CliError(f"invalid value for '--user': {problem}", ExitCode.USAGE)
    return identifier


def validate_connector(connector: str) -> str:
    problem = connector_problem(connector)
    if problem:
        raise CliError(f"connector {problem}", ExitCode.USAGE)
    return connector


def validate_verify_url(url: str) -> str:
    problem = verify_url_problem(url)
    if problem:
        raise CliError(f"invalid value for '--verify-url': {problem}", ExitCode.USAGE)
    return url


def refuse_empty(*options: tuple[str, str | None]) -> None:
    """(flag, value) pairs: a value given but empty (`--profile ''`, an unset variable
    expanded) is exit 2, never taken for the option left out."""
    for flag, value in options:
        if value is not None and not value.strip():
            raise CliError(f"{flag} must not be empty", ExitCode.USAGE)


def positive_number(value: float, flag: str) -> float:
    # NaN fails every comparison, so test the wanted range rather than the unwanted one.
    if not (0 < value < float("inf")):
        raise CliError(f"{flag} must be a positive number of seconds", ExitCode.USAGE)
    return value


def describe_failure(exc: ScalekitError) -> tuple[int, str]:
    """The exit code and the one line for an error of the client library."""
    if isinstance(exc, NetworkError):
        return ExitCode.FAILURE, f"cannot reach {exc.host}: {exc}"
    if isinstance(exc, CredentialsRejected):
        return ExitCode.CONFIG, f"{exc}; check SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET"
    if isinstance(exc, Unauthenticated):
        return ExitCode.CONFIG, f"the machine token was refused even after renewing it: {exc}"
    if isinstance(exc, ConfigurationError):
        return ExitCode.CONFIG, str(exc)
    if isinstance(exc, ApiError) and exc.status == 400 and exc.code == 3 and exc.field_violations:
        # INVALID_ARGUMENT naming broken field rules: the input, not the service, is wrong.
        return ExitCode.USAGE, f"the service refused {exc.method} {exc.path}: {exc}"
    if isinstance(exc, ApiError):
        detail = f"HTTP {exc.status}" + (f", {exc.error_code}" if exc.error_code else "")
        return ExitCode.FAILURE, f"{exc.method} {exc.path} failed: {exc} ({detail})"
    if isinstance(exc, ProviderError):
        # A provider's error body names neither the host nor the status; the line must.
        return ExitCode.FAILURE, f"{exc.host} answered HTTP {exc.status}: {exc}"
    if isinstance(exc, InvalidResponse):
        return ExitCode.FAILURE, str(exc)
    return ExitCode.FAILURE, str(exc)


Options = TypeVar("Options")


def run_command(
    run: Callable[[Options, Runtime], int],
    options: Options,
    flags: Flags,
    *,
    json_mode: bool = False,
    verbose: bool = False,
    debug: bool = False,
) -> int:
    """Run a command's `run` with a fresh Output and Runtime; returns its exit code."""
    out = Output.from_system(json_mode=json_mode, verbose=verbose, debug=debug)
    runtime = Runtime(out=out, flags=flags)
    try:
        refuse_empty(
            ("--env-url", flags.env_url),
            ("--client-id", flags.client_id),
            ("--profile", flags.profile),
        )
        code = run(options, runtime)
    except KeyboardInterrupt:
        out.error("interrupted")
        code = ExitCode.INTERRUPTED
    except CliError as exc:
        out.error(exc.message)
        code = exc.exit_code
    except ScalekitError as exc:
        code, message = describe_failure(exc)
        out.error(message)
    finally:
        # Closing must never mask the command's own outcome.
        with contextlib.suppress(Exception):
            runtime.close()
    return int(code)
