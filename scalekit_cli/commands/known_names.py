"""Names the environment knows, for "did you mean" when a user names one it does not.

A mistyped connector or tool is wrong input (exit 2), like a mistyped option: the line says
what the environment does know instead, never "run the command that just failed". What `sk`
can see of an environment's connectors is its list of connections (`connections/app`) where
it serves one; else the tool catalogue (each tool belongs to one), the user's connected
accounts, and the environment's own answers (creating an account for an unknown connection
is 404 `CONNECTION_NOT_FOUND`).

Only the failure paths import this module; it costs the successful ones nothing.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterable

from ..errors import CliError, ExitCode, not_connected
from ..runtime import Runtime
from ..scalekit.errors import ScalekitError

# How many known names a line lists when none is close.
_LISTED = 8


def closest(name: str, candidates: Iterable[str], count: int = 3) -> list[str]:
    """The candidates that look most like `name`, best first (case does not count)."""
    by_folded: dict[str, str] = {}
    for candidate in candidates:
        by_folded.setdefault(candidate.casefold(), candidate)
    matches = difflib.get_close_matches(name.casefold(), list(by_folded), n=count, cutoff=0.6)
    return [by_folded[match] for match in matches]


def _choices(names: list[str]) -> str:
    quoted = [repr(name) for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def known_connectors(runtime: Runtime, identifier: str | None) -> set[str]:
    """Every connector name `sk` can see: the environment's own list of its connections
    (`connections/app`) where it has one, else the catalogue's tools' and the user's
    accounts'. A source that cannot be read adds nothing: this only ever improves an error
    line."""
    client = runtime.scalekit()
    try:
        listed = {connection.name for connection in client.iter_app_connections()}
    except ScalekitError:
        listed = set()  # an older environment (404/501), or unreadable: the other sources
    listed.discard("")
    if listed:
        return listed
    names: set[str] = set()
    with contextlib.suppress(ScalekitError):
        for tool in client.iter_tools():
            metadata = tool.raw.get("metadata")
            connector = metadata.get("connector") if isinstance(metadata, dict) else None
            if isinstance(connector, str) and connector:
                names.add(connector)
            elif "_" in tool.name:
                names.add(tool.name.split("_", 1)[0])  # `gmail_fetch_mails` is gmail's
    if identifier:
        with contextlib.suppress(ScalekitError):
            names.update(a.connector for a in client.iter_accounts(identifier=identifier))
    names.discard("")
    return names


def unknown_connection(runtime: Runtime, connector: str, identifier: str | None) -> CliError:
    """The environment has no connection named `connector` (it said so): exit 2, with the
    names it does have that come closest."""
    known = sorted(known_connectors(runtime, identifier) - {connector})
    message = f"this environment has no connection named {connector!r}"
    close = closest(connector, known)
    if close:
        message += f"; did you mean {_choices(close)}?"
    elif known:
        listed = ", ".join(known[:_LISTED]) + (", …" if len(known) > _LISTED else "")
        message += f"; it has: {listed}"
    return CliError(message, ExitCode.USAGE)


def not_a_known_connector(
    runtime: Runtime, connector: str, identifier: str | None, *, only_if_close: bool = False
) -> CliError | None:
    """When a request naming `connector` failed (or found nothing) and that connector is none
    the environment knows, the typo is the error to report (exit 2, "did you mean"); None when
    it knows it, or knows nothing it could suggest instead. `only_if_close` when nothing was
    refused: a connection with no tools in the catalogue is then told apart from a typo only
    by a known name being close to it."""
    known = known_connectors(runtime, identifier)
    if not known or connector in known or (only_if_close and not closest(connector, known)):
        return None
    return unknown_connection(runtime, connector, identifier)


def missing_account(
    runtime: Runtime, connector: str, identifier: str, status: str | None = None
) -> CliError:
    """No usable account for `connector` + `identifier`. When the connector is none the
    environment knows but one it knows is close, that is the typo to fix (exit 2, "did you
    mean"); otherwise the account is what is missing (exit 3 and the `sk connect` command)."""
    if status is None:
        known = known_connectors(runtime, identifier)
        if known and connector not in known and closest(connector, known):
            return unknown_connection(runtime, connector, identifier)
    return not_connected(connector, identifier, status, **runtime.connect_hint_args())


def unknown_tool(runtime: Runtime, name: str) -> CliError:
    """No tool named `name` in the catalogue: exit 2, with the closest names it holds."""
    message = f"no tool named {name!r}"
    try:
        names = [tool.name for tool in runtime.scalekit().iter_tools() if tool.name]
    except ScalekitError:
        names = []
    close = closest(name, names)
    if close:
        message += f"; did you mean {_choices(close)}?"
    return CliError(f"{message} (see: {runtime.sk_prefix()} tools list)", ExitCode.USAGE)
