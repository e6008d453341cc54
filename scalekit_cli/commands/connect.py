"""`sk connect CONNECTOR --user ID` — get or create the account, print its magic link, and wait
until the user has authorized it and it is ACTIVE.

While waiting only `/details` is read: no credentials are fetched until they are wanted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from ..connecting import request_link
from ..errors import CliError, ExitCode
from ..runtime import Runtime
from ..scalekit.errors import ApiError, InvalidResponse, NetworkError, NotFound, ScalekitError
from ._common import (
    MAGIC_LINK_REQUEST,
    ConnectorArgument,
    DebugOption,
    JsonOption,
    UserOption,
    VerboseOption,
    check_field,
    execute,
    positive_number,
    refuse_empty,
    validate_connector,
    validate_identifier,
)
from ._runner import describe_failure

if TYPE_CHECKING:
    from ..scalekit.models import ConnectedAccount, MagicLink

# Without a terminal, a progress line at most this often (and on every status change).
PLAIN_PROGRESS_EVERY = 30.0
# The shortest pause between two status polls, whatever --interval says.
MIN_INTERVAL = 0.05
# How often a terminal's spinner text is refreshed between polls.
SPINNER_TICK = 0.25
# While Scalekit cannot be reached, polls back off from --interval up to this.
OUTAGE_BACKOFF_CAP = 10.0


def _is_outage(error: ScalekitError) -> bool:
    """A failure that says nothing about the account: the wait goes on through it."""
    if isinstance(error, NetworkError):
        return True
    status = error.status if isinstance(error, ApiError | InvalidResponse) else 0
    return status >= 500 or status == 429


# The documented statuses an authorization can end in without success (Deny on the hosted
# page): the account needs a new link. PENDING_AUTH and PENDING_VERIFICATION are on the way.
ENDED_STATUSES = ("DISCONNECTED", "EXPIRED")


class AuthorizationEnded(Exception):
    """The account moved to an ended status while `sk connect` waited: the user said no."""

    def __init__(self, account: ConnectedAccount) -> None:
        super().__init__(account.status)
        self.account = account


@dataclass
class ConnectOptions:
    connector: str
    identifier: str
    timeout: float = 300.0
    interval: float = 2.0
    wait: bool = True
    force: bool = False
    open_browser: bool = False
    qr: bool = False
    verify_user: bool = False
    verify_url: str | None = None
    json: bool = False


def run(options: ConnectOptions, runtime: Runtime) -> int:
    validate_connector(options.connector)
    validate_identifier(options.identifier)
    positive_number(options.timeout, "--timeout")
    positive_number(options.interval, "--interval")
    refuse_empty(("--verify-url", options.verify_url))
    if options.verify_user and options.verify_url:
        raise CliError("--verify-user and --verify-url exclude each other", ExitCode.USAGE)
    if options.verify_url is not None:
        # The service's rules for user_verify_url (length, ^https?://): refused before any
        # request, so no account is created for a link that could not be made.
        check_field(MAGIC_LINK_REQUEST, "user_verify_url", options.verify_url, "--verify-url")
    if options.verify_user and not options.wait:
        raise CliError(
            "--verify-user needs sk to wait for the browser; drop --no-wait", ExitCode.USAGE
        )

    out = runtime.out
    client = runtime.scalekit()
    if runtime.sandbox is not None and not options.wait:
        # The embedded sandbox serves its hosted page only while this process runs: a link
        # printed and left behind could never be opened.
        raise CliError(
            "the embedded sandbox serves its hosted page only while `sk --sandbox connect` "
            "waits: drop --no-wait, or run `sk sandbox serve` and use the settings it prints",
            ExitCode.USAGE,
        )
    try:
        account, created = client.get_or_create_account(options.connector, options.identifier)
    except NotFound:
        # Creating is 404 only when the environment has no such connection.
        from ._known_names import unknown_connection

        raise unknown_connection(runtime, options.connector, options.identifier) from None
    out.detail(
        f"{'created' if created else 'found'} {options.connector} account "
        f"{account.id or '(no id)'} in status {account.status or 'unknown'}"
    )
    if account.is_active and not options.force:
        out.success(
            f"{options.connector} is already connected for {options.identifier} "
            "(ACTIVE; --force makes a new link)"
        )
        if options.json and not options.wait:
            # The documented --no-wait shape, with no link since none was made.
            out.json(
                {
                    "connector": options.connector,
                    "identifier": options.identifier,
                    "status": account.status,
                    "link": None,
                    "expiry": None,
                }
            )
        elif options.json:
            out.json(account.summary())
        return ExitCode.OK

    # The embedded sandbox serves its hosted page on a real loopback port only while a browser
    # may need it; the link must be requested after, so that it points there.
    sandbox = runtime.sandbox
    if sandbox is not None and options.wait:
        sandbox.start_server()

    listener = None
    if options.verify_user and options.wait:
        from ..verify_listener import VerifyListener

        listener = VerifyListener(client, options.identifier, notify=out.warn).start()
    try:
        link = _request_link(runtime, options, listener)
        if not options.wait:
            if options.json:
                out.json(
                    {
                        "connector": options.connector,
                        "identifier": options.identifier,
                        "status": account.status or None,
                        "link": link.link,
                        "expiry": link.expiry or None,
                    }
                )
            else:
                out.result(link.link)
            if options.qr:
                _show_qr(runtime, link)
            if sandbox is not None:
                out.warn(
                    "the embedded sandbox serves its hosted page only while `sk --sandbox "
                    "connect` waits; for a link that outlives this command, run `sk sandbox serve`"
                )
            if options.open_browser:
                _open_browser(runtime, link)
            return ExitCode.OK
        show_link(runtime, options, link)
        # Re-authorizing an ACTIVE account (--force) is done when the account changes again.
        baseline = account.updated_at if account.is_active else None
        while True:
            try:
                final = wait_until_active(
                    runtime, options, link, listener, baseline, started_from=account
                )
                break
            except AuthorizationEnded as ended:
                _offer_new_link(runtime, options, ended.account)
                account = ended.account
                link = _request_link(runtime, options, listener)
                show_link(runtime, options, link)
    finally:
        if listener is not None:
            listener.close()
    out.success(f"{options.connector} is connected for {options.identifier} (ACTIVE)")
    if options.json:
        out.json(final.summary())
    return ExitCode.OK


def _request_link(runtime: Runtime, options: ConnectOptions, listener) -> MagicLink:
    return request_link(
        runtime.scalekit(),
        options.connector,
        options.identifier,
        listener=listener,
        verify_url=options.verify_url,
    )


def show_link(runtime: Runtime, options: ConnectOptions, link: MagicLink) -> None:
    out = runtime.out
    out.info(f"Open this link to authorize {options.connector} for {options.identifier}:")
    # The bare URL alone on stdout, for scripts; with --json stdout is kept for the JSON result.
    if options.json:
        out.info(link.link)
    else:
        out.result(link.link)
    if options.qr:
        _show_qr(runtime, link)
    if options.open_browser:
        _open_browser(runtime, link)


def _show_qr(runtime: Runtime, link: MagicLink) -> None:
    """The link as a QR code on stderr, to open it on a phone; stdout keeps the bare URL."""
    from .qr import render

    if _on_this_machine_only(link.link):
        runtime.out.warn(
            "the link points at this machine (loopback): a phone cannot open it; "
            "open it in a browser here"
        )
    runtime.out.drawing(render(link.link, color=runtime.out.color))


def _on_this_machine_only(url: str) -> bool:
    """Whether `url` names a loopback host (the sandbox's `http://127.0.0.1:…`, `localhost`),
    which a phone scanning the code would resolve to itself."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _open_browser(runtime: Runtime, link: MagicLink) -> None:
    import webbrowser

    if not webbrowser.open(link.link):
        runtime.out.warn("could not open a browser; open the link above yourself")


def _offer_new_link(runtime: Runtime, options: ConnectOptions, account: ConnectedAccount) -> None:
    """After a Deny: on a terminal, Enter asks for a fresh link; anywhere else, exit 1."""
    out = runtime.out
    what = (
        f"{options.identifier} did not authorize {options.connector}: the authorization was "
        f"denied or ended on the hosted page (the account is now {account.status})"
    )
    if not (out.stdin_tty and out.stderr_tty) or options.json:
        raise CliError(what, ExitCode.FAILURE)
    out.warn(what)
    out.info("Press Enter for a new link, or Ctrl-C to stop.")
    line = out.stdin.readline()
    if not line:  # end of input: nobody is there to use a new link
        raise CliError(what, ExitCode.FAILURE)


def _ended(account: ConnectedAccount, started_from: ConnectedAccount | None) -> bool:
    """Whether the account entered an ended status after the link was made: a status it did
    not have then, or the same one written again (a second Deny moves `updated_at`)."""
    if started_from is None or account.status not in ENDED_STATUSES:
        return False
    return (account.status, account.updated_at) != (started_from.status, started_from.updated_at)


def _remaining(link: MagicLink) -> float | None:
    expires = link.expires
    if expires is None:
        return None
    return (expires - datetime.now(UTC)).total_seconds()


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def wait_until_active(
    runtime: Runtime,
    options: ConnectOptions,
    link: MagicLink,
    listener,
    baseline_update: str | None = None,
    *,
    started_from: ConnectedAccount | None = None,
) -> ConnectedAccount:
    """Poll until ACTIVE; AuthorizationEnded when the account enters an ended status after
    `started_from` (the account as read before the link was made), i.e. on a Deny."""
    out = runtime.out
    client = runtime.scalekit()
    started = time.monotonic()
    deadline = started + options.timeout
    # A floor, so a tiny --interval cannot turn the wait into a flood of requests.
    interval = max(options.interval, MIN_INTERVAL)
    last_status = ""
    last_line = started
    told_about_verification = False
    outage: str | None = None  # why the last poll failed, while Scalekit is unreachable
    failed_polls = 0

    def describe(status: str) -> str:
        remaining = _remaining(link)
        life = f", link valid {_clock(remaining)}" if remaining is not None else ""
        unreachable = "; Scalekit unreachable, retrying" if outage else ""
        return (
            f"Waiting for {options.identifier} to authorize {options.connector} "
            f"({status or 'unknown'}, {_clock(time.monotonic() - started)} elapsed{life}"
            f"{unreachable})"
        )

    # Each poll ends by the deadline too: a server that accepts and never answers cannot hold
    # the wait past --timeout for a whole SK_HTTP_TIMEOUT.
    with out.spinner(describe("PENDING_AUTH")) as spinner, runtime.session().deadline(deadline):
        while True:
            polled_at = time.monotonic()
            try:
                account = client.get_account(options.connector, options.identifier)
            except ScalekitError as error:
                # An outage or a 5xx is no answer about the account: wait on, backing off,
                # until --timeout. Only a definite answer (or Ctrl-C) ends the wait early.
                if not _is_outage(error):
                    raise
                cause = describe_failure(error)[1]
                if outage is None and spinner is None:
                    out.warn(f"Scalekit unreachable, retrying until --timeout: {cause}")
                outage = cause
                failed_polls += 1
                if time.monotonic() >= deadline:
                    raise CliError(
                        f"timed out after {options.timeout:g} s waiting for {options.identifier} "
                        f"to authorize {options.connector}; the last check failed: {outage}",
                        ExitCode.TIMED_OUT,
                    ) from None
                backoff = min(interval * 2**failed_polls, max(interval, OUTAGE_BACKOFF_CAP))
                next_poll = min(polled_at + backoff, deadline)
                _pause(next_poll - time.monotonic(), spinner, lambda s=last_status: describe(s))
                continue
            if outage is not None and spinner is None:
                out.info("Scalekit answers again; still waiting")
            outage, failed_polls = None, 0
            if account.is_active and (not baseline_update or account.updated_at != baseline_update):
                return account
            if _ended(account, started_from):
                raise AuthorizationEnded(account)
            status = account.status
            if (
                status == "PENDING_VERIFICATION"
                and listener is None
                and not told_about_verification
            ):
                told_about_verification = True
                next_step = (
                    "your --verify-url route must call it"
                    if options.verify_url
                    else "rerun with --verify-user to let sk complete it"
                )
                out.warn(
                    f"{options.identifier} has authorized; the account now waits for your app's "
                    f"user verification (POST /api/v1/connected_accounts/user/verify): "
                    f"{next_step}. Still waiting…"
                )
            remaining = _remaining(link)
            if remaining is not None and remaining <= 0 and status != "PENDING_VERIFICATION":
                link = _request_link(runtime, options, listener)
                out.warn("the link expired; here is a new one:")
                show_link(runtime, options, link)
            now = time.monotonic()
            if now >= deadline:
                raise CliError(
                    f"timed out after {options.timeout:g} s waiting for {options.identifier} to "
                    f"authorize {options.connector} (status {status or 'unknown'})",
                    ExitCode.TIMED_OUT,
                )
            if spinner is None and (
                status != last_status or now - last_line >= PLAIN_PROGRESS_EVERY
            ):
                out.info(describe(status))
                last_line = now
            last_status = status
            # Every interval from the start of the previous poll, not from its end: an approval
            # is then noticed within one interval plus one round trip, however slow the reads.
            next_poll = min(polled_at + interval, deadline)
            _pause(next_poll - time.monotonic(), spinner, lambda s=status: describe(s))


def _pause(seconds: float, spinner, text) -> None:
    """Sleep until the next poll, refreshing a spinner's text meanwhile."""
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, SPINNER_TICK) if spinner is not None else left)
        if spinner is not None:
            spinner.update(text())


def register(app: typer.Typer) -> None:
    @app.command("connect")
    def connect_command(
        ctx: typer.Context,
        connector: ConnectorArgument,
        user: UserOption,
        timeout: Annotated[
            float, typer.Option("--timeout", help="Seconds to wait for authorization.")
        ] = 300.0,
        interval: Annotated[
            float, typer.Option("--interval", help="Seconds between status checks.")
        ] = 2.0,
        no_wait: Annotated[
            bool, typer.Option("--no-wait", help="Print the link and exit without waiting.")
        ] = False,
        force: Annotated[
            bool, typer.Option("--force", help="Make a new link even if already ACTIVE.")
        ] = False,
        open_browser: Annotated[
            bool, typer.Option("--open", help="Open the link in a browser.")
        ] = False,
        qr: Annotated[
            bool, typer.Option("--qr", help="Also draw the link as a QR code (on stderr).")
        ] = False,
        verify_user: Annotated[
            bool,
            typer.Option(
                "--verify-user",
                help="Complete custom user verification through a loopback listener.",
            ),
        ] = False,
        verify_url: Annotated[
            str | None,
            typer.Option("--verify-url", help="Your app's user-verify route.", metavar="URL"),
        ] = None,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Connect an account: print its magic link and wait until it is ACTIVE."""
        options = ConnectOptions(
            connector=connector,
            identifier=user,
            timeout=timeout,
            interval=interval,
            wait=not no_wait,
            force=force,
            open_browser=open_browser,
            qr=qr,
            verify_user=verify_user,
            verify_url=verify_url,
            json=json_mode,
        )
        execute(ctx, run, options, json_mode=json_mode, verbose=verbose, debug=debug)
