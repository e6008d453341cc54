"""What `sk connect`, `sk exec-tool` and the MCP server share about a user's account: the
magic link a user opens to connect it, and telling "this account cannot be used" apart from
any other refusal of a tool call.

No output here: each caller reports in its own way (a terminal, one `sk:` line, an MCP
elicitation or tool error).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .scalekit.errors import FailedPrecondition, NotFound

if TYPE_CHECKING:
    from .scalekit.client import ScalekitClient
    from .scalekit.models import MagicLink, ToolResult


class VerifyTarget(Protocol):
    """Where custom user verification sends the browser (the loopback `VerifyListener`)."""

    state: str
    url: str


class AccountUnusable(Exception):
    """A tool call was refused because the user's account is absent or not ACTIVE."""

    def __init__(self, connector: str, identifier: str, status: str | None) -> None:
        super().__init__(f"the {connector} account of {identifier!r} is {status or 'absent'}")
        self.connector = connector
        self.identifier = identifier
        self.status = status


def request_link(
    client: ScalekitClient,
    connector: str,
    identifier: str,
    *,
    listener: VerifyTarget | None = None,
    verify_url: str | None = None,
) -> MagicLink:
    """A magic link for the account; with a listener, custom user verification returns to it
    carrying the listener's unguessable state."""
    if listener is not None:
        return client.magic_link(
            connector, identifier, state=listener.state, user_verify_url=listener.url
        )
    return client.magic_link(connector, identifier, user_verify_url=verify_url)


def execute_tool(
    client: ScalekitClient,
    tool: str,
    params: dict[str, Any],
    *,
    connector: str | None,
    identifier: str | None,
    connected_account_id: str | None = None,
) -> ToolResult:
    """`execute_tool`; a refusal caused by the account itself raises AccountUnusable."""
    try:
        return client.execute_tool(
            tool,
            params,
            connector=connector,
            identifier=identifier,
            connected_account_id=connected_account_id,
        )
    except (FailedPrecondition, NotFound) as refused:
        # 400/9 is "not ACTIVE"; a 404 may be the account or the tool: ask the account itself.
        if isinstance(refused, NotFound) and refused.error_code == "TOOL_NOT_FOUND":
            raise
        if connected_account_id or connector is None or identifier is None:
            raise
        try:
            account = client.get_account(connector, identifier)
        except NotFound:
            raise AccountUnusable(connector, identifier, None) from None
        if account.is_active:
            raise refused from None
        raise AccountUnusable(connector, identifier, account.status) from None
