"""The typer-free half of what every command shares: input validation, and the wrapper that
runs a command and turns any failure into one line on stderr and a documented exit code.

Kept apart from `_common` (the Typer options): none of it needs Typer.
"""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Callable
from typing import TypeVar

from ..config import Flags
from ..errors import CliError, ExitCode
from ..output import Output
from ..runtime import Runtime
from ..scalekit.errors import (
    ApiError,
    ConfigurationError,
    CredentialsRejected,
    InvalidResponse,
    NetworkError,
    ProviderError,
    RequestRefused,
    ScalekitError,
    Unauthenticated,
)

# The request whose field rules name a connected account by connector + identifier (every
# connected-account request carries the same rules: scalekit_cli/scalekit/field_rules.json).
ACCOUNT_REQUEST = "scalekit.v1.connected_accounts.GetConnectedAccountByIdentifierRequest"
MAGIC_LINK_REQUEST = "scalekit.v1.connected_accounts.GetMagicLinkForConnectedAccountRequest"


def check_field(message: str, field: str, value: str, flag: str) -> None:
    """Exit 2 when `value` breaks the service's rules for `field` of `message` (the one rule
    table the sandbox enforces too), naming the option the user typed."""
    from ..scalekit import rules

    violations = rules.field_violations(message, field, value)
    if violations:
        raise CliError(f"{flag}: {violations[0].message}", ExitCode.USAGE)


def validate_identifier(identifier: str) -> str:
    if not identifier or not identifier.strip():
        raise CliError("--user must not be empty", ExitCode.USAGE)
    check_field(ACCOUNT_REQUEST, "identifier", identifier, "--user")
    for char in identifier:
        if unicodedata.category(char) == "Cc":
            raise CliError(
                f"--user holds the control character U+{ord(char):04X}; identifiers are text",
                ExitCode.USAGE,
            )
    return identifier


def validate_connector(connector: str) -> str:
    from ..scalekit import rules

    broken = not connector.strip() or rules.field_violations(
        ACCOUNT_REQUEST, "connector", connector
    )
    if broken:
        shown = connector.encode("unicode_escape").decode("ascii")[:60]
        raise CliError(
            f"connector {shown!r} is not valid: use letters, digits, spaces, '-', '_' or ':'"
            " (the service's rule for connector)",
            ExitCode.USAGE,
        )
    return connector


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
    if isinstance(exc, RequestRefused):
        return ExitCode.USAGE, f"not sent: the service's field rules refuse it: {exc}"
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
