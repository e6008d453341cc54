"""`sk connect CONNECTOR --user ID` — get or create the account, print its magic link, and wait
until the user has authorized it and it is ACTIVE.

While waiting only `/details` is read: no credentials are fetched until they are wanted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from ..cli.commands import SkCommand
from ..connecting import request_link
from ..errors import CliError, ExitCode, connect_command, shell_word
from ..runtime import Runtime
from ..scalekit.errors import (
    AlreadyExists,
    ApiError,
    InvalidResponse,
    NetworkError,
    NotFound,
    ScalekitError,
)
from ._common import (
    ConnectorArgument,
    DebugOption,
    JsonOption,
    UserOption,
    VerboseOption,
    execute,
    positive_number,
    refuse_empty,
    validate_connector,
    validate_identifier,
    validate_verify_url,
    verify_url,
)
from .runner import describe_failure

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
    credentials_stdin: bool = False
    fields: list[str] = dataclass_field(default_factory=list)


def run(options: ConnectOptions, runtime: Runtime) -> int:
    validate_connector(options.connector)
    validate_identifier(options.identifier)
    if options.credentials_stdin or options.fields:
        return connect_static(options, runtime)
    positive_number(options.timeout, "--timeout")
    positive_number(options.interval, "--interval")
    refuse_empty(("--verify-url", options.verify_url))
    if options.verify_user and options.verify_url:
        raise CliError("--verify-user and --verify-url exclude each other", ExitCode.USAGE)
    if options.verify_url is not None:
        # The service's rules for user_verify_url (length, ^https?://): refused before any
        # request, so no account is created for a link that could not be made.
        validate_verify_url(options.verify_url)
    if options.verify_user and not options.wait:
        raise CliError(
            "--verify-user needs sk to wait for the browser; drop --no-wait", ExitCode.USAGE
        )

    if not options.wait:
        return _connect(options, runtime, None)
    # --timeout bounds the whole command, not only the wait: every request ends by then.
    deadline = time.monotonic() + options.timeout
    try:
        with runtime.session().deadline(deadline):
            return _connect(options, runtime, deadline)
    except NetworkError as error:
        if time.monotonic() < deadline:
            raise
        raise CliError(
            f"timed out after {options.timeout:g} s: {describe_failure(error)[1]}",
            ExitCode.TIMED_OUT,
        ) from None


def _connect(options: ConnectOptions, runtime: Runtime, deadline: float | None) -> int:
    """The command after its checks; `deadline` (a time.monotonic() value) ends the wait."""
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
        from .known_names import unknown_connection

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
                    runtime, options, link, listener, baseline, started_from=account, until=deadline
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
    until: float | None = None,
) -> ConnectedAccount:
    """Poll until ACTIVE, until `until` (a time.monotonic() value; default --timeout from
    now); AuthorizationEnded when the account enters an ended status after `started_from`
    (the account as read before the link was made), i.e. on a Deny."""
    out = runtime.out
    client = runtime.scalekit()
    started = time.monotonic()
    deadline = started + options.timeout if until is None else until
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


# -- connecting with static credentials (API key, basic, bearer): no browser ------------------

# The connections' authorization types (the contract's ConnectorType) whose credentials are a
# static object the caller may store itself (`authorization_details.static_auth.details`).
STATIC_AUTH_TYPES = ("API_KEY", "BASIC_AUTH", "BASIC", "BEARER_TOKEN")
# A --field key that looks like it names a secret: such values belong on stdin, never in a
# process's arguments (which `ps` and shell history show to others).
SECRET_LOOKING_KEY = re.compile(
    r"key|secret|token|pass|pwd|credential|auth|cookie|session|private|signature", re.IGNORECASE
)


def parse_fields(items: list[str]) -> dict[str, str]:
    """`--field KEY=VALUE` items (non-secret credential fields, e.g. a domain); a key that
    looks secret is refused before anything is sent. Values are never echoed back."""
    fields: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CliError("--field takes KEY=VALUE", ExitCode.USAGE)
        if SECRET_LOOKING_KEY.search(key):
            raise CliError(
                f"--field {key}=… looks like a secret: secrets are never taken on the command "
                "line; put it in the JSON object on stdin (--credentials-stdin)",
                ExitCode.USAGE,
            )
        fields[key] = value
    return fields


def read_credentials(runtime: Runtime) -> dict[str, Any]:
    """The JSON object of credential fields on standard input; its string values are
    registered as secrets at once, so no output, trace or error can show them."""
    from ..json_input import JsonInputError, parse_strict

    out = runtime.out
    try:
        if out.stdin_tty:
            text = _read_unechoed(
                out.stdin,
                lambda: out.info(
                    "Paste the credentials as a JSON object (not shown), then press Ctrl-D:"
                ),
            )
        else:
            text = out.stdin.read()
    except UnicodeDecodeError:
        raise CliError("standard input is not UTF-8 text", ExitCode.USAGE) from None
    try:
        document = parse_strict(text, unique_keys=True)
    except JsonInputError as exc:
        # JsonInputError never quotes the input, which may hold the secret.
        raise CliError(
            f"--credentials-stdin: standard input is not a JSON object ({exc}; "
            'e.g. {"api_key": "…"} or {"username": "…", "password": "…"})',
            ExitCode.USAGE,
        ) from None
    _register_secrets(runtime, document)
    if not isinstance(document, dict) or not document:
        raise CliError(
            "--credentials-stdin: standard input must hold a non-empty JSON object "
            '(e.g. {"api_key": "…"})',
            ExitCode.USAGE,
        )
    return document


def _read_unechoed(stdin: TextIO, prompt: Callable[[], None]) -> str:
    """All of a terminal's input up to Ctrl-D, with echo off so a pasted secret is never on
    screen; `prompt()` runs once echo is off, so nothing typed at it is shown. getpass does the
    same for one line, and a pasted JSON object may span several."""
    try:
        import termios
    except ImportError:  # no termios (Windows): getpass hides one line there
        import getpass

        prompt()
        return getpass.getpass("")
    try:
        fd = stdin.fileno()
        saved = termios.tcgetattr(fd)
    except (OSError, ValueError, termios.error):
        prompt()  # not a real terminal after all: it echoes nothing
        return stdin.read()
    quiet = list(saved)
    quiet[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSAFLUSH, quiet)
    try:
        prompt()
        return stdin.read()
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)


def _register_secrets(runtime: Runtime, document: Any) -> None:
    secrets = runtime.scalekit().secrets
    if isinstance(document, str):
        secrets.add(document)
    elif isinstance(document, dict):
        for value in document.values():
            _register_secrets(runtime, value)
    elif isinstance(document, list):
        for value in document:
            _register_secrets(runtime, value)


def static_details(runtime: Runtime, credentials_stdin: bool, items: list[str]) -> dict[str, Any]:
    """The `static_auth.details` object: stdin's credentials plus the --field values."""
    fields = parse_fields(items)
    if not credentials_stdin:
        raise CliError(
            "--field adds non-secret fields to --credentials-stdin's object; "
            "pass --credentials-stdin too",
            ExitCode.USAGE,
        )
    details = read_credentials(runtime)
    both = sorted(set(details) & set(fields))
    if both:
        raise CliError(
            f"{', '.join(both)} given both on stdin and with --field; give each once",
            ExitCode.USAGE,
        )
    return {**details, **fields}


def refuse_unless_static(
    runtime: Runtime, account: ConnectedAccount, connector: str, identifier: str
) -> None:
    """Exit 2 when the account's connection does not take static credentials (OAuth and the
    like need the user's consent on the hosted page). An answer without a type is let through:
    the service then judges the credentials itself."""
    kind = account.authorization_type
    if kind and kind not in STATIC_AUTH_TYPES:
        raise CliError(
            f"{connector} uses {kind} authorization, which --credentials-stdin cannot set "
            f"(it takes {', '.join(STATIC_AUTH_TYPES)}); connect it in a browser: "
            + connect_command(connector, identifier, prefix=runtime.sk_prefix()),
            ExitCode.USAGE,
        )


def _remove_unused_account(
    runtime: Runtime, account: ConnectedAccount, connector: str, identifier: str
) -> None:
    """Delete the empty account made only to learn that the connection is not static; if that
    fails, refuse anyway and say how to remove it (it holds no credentials)."""
    try:
        runtime.scalekit().delete_account(
            account_id=account.id or None, connector=connector, identifier=identifier
        )
    except ScalekitError as exc:
        prefix = runtime.sk_prefix()
        raise CliError(
            f"{connector} uses {account.authorization_type} authorization, which "
            "--credentials-stdin cannot set (no credentials were sent); the empty account made "
            f"to learn this could not be removed ({exc}): run "
            f"{prefix} disconnect {shell_word(connector)} --user {shell_word(identifier)}",
            ExitCode.USAGE,
        ) from None


def connect_static(options: ConnectOptions, runtime: Runtime) -> int:
    """Store an API key, basic or bearer credentials for the account (get, create only on 404,
    else update), then confirm from `/details` that it is ACTIVE. No magic link is made."""
    browser_only = [
        name
        for name, given in (
            ("--no-wait", not options.wait),
            ("--force", options.force),
            ("--open", options.open_browser),
            ("--qr", options.qr),
            ("--verify-user", options.verify_user),
            ("--verify-url", options.verify_url is not None),
        )
        if given
    ]
    if browser_only:
        raise CliError(
            f"{', '.join(browser_only)} concern the hosted page, which --credentials-stdin "
            "does not use",
            ExitCode.USAGE,
        )
    details = static_details(runtime, options.credentials_stdin, options.fields)
    authorization = {"static_auth": {"details": details}}
    out = runtime.out
    client = runtime.scalekit()
    connector, identifier = options.connector, options.identifier
    try:
        existing: ConnectedAccount | None = client.get_account(connector, identifier)
    except NotFound:
        existing = None
    if existing is not None:
        refuse_unless_static(runtime, existing, connector, identifier)
        client.update_account(connector, identifier, authorization_details=authorization)
        out.detail(f"stored new credentials in {connector} account {existing.id or '(no id)'}")
    else:
        # Created empty, as plain `sk connect` does: the answer names the connection's
        # authorization type, and no credential leaves sk before it is known to be static.
        made_here = True
        try:
            created = client.create_account(connector, identifier)
        except NotFound:
            from .known_names import unknown_connection

            raise unknown_connection(runtime, connector, identifier) from None
        except AlreadyExists:  # made meanwhile by someone else: update it instead
            created = client.get_account(connector, identifier)
            made_here = False
        kind = created.authorization_type
        if made_here and kind and kind not in STATIC_AUTH_TYPES:
            _remove_unused_account(runtime, created, connector, identifier)
        refuse_unless_static(runtime, created, connector, identifier)
        client.update_account(connector, identifier, authorization_details=authorization)
        out.detail(f"created {connector} account {created.id or '(no id)'} with credentials")
    account = client.get_account(connector, identifier)
    if not account.is_active:
        raise CliError(
            f"the {connector} account of {identifier!r} is {account.status or 'in no status'} "
            "after its credentials were stored; check them and run this again",
            ExitCode.NOT_CONNECTED,
        )
    out.success(f"{connector} is connected for {identifier} (ACTIVE, credentials stored)")
    if options.json:
        out.json(account.summary())
    return ExitCode.OK


def register(app: typer.Typer) -> None:
    @app.command(
        "connect",
        cls=SkCommand,
        epilog="""
            sk connect gmail --user user_123
            sk connect slack --user user_123 --no-wait --json
            sk connect exa --user user_123 --credentials-stdin
        """,
    )
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
            typer.Option(
                "--verify-url",
                help="Your app's user-verify route.",
                metavar="URL",
                parser=verify_url,
            ),
        ] = None,
        credentials_stdin: Annotated[
            bool,
            typer.Option(
                "--credentials-stdin",
                help="API-key, basic or bearer connections: read the credentials as a JSON "
                'object on stdin (e.g. {"api_key": "…"}) and store them; no browser.',
            ),
        ] = False,
        field: Annotated[
            list[str] | None,
            typer.Option(
                "--field",
                help="A non-secret credential field for --credentials-stdin, e.g. "
                "domain=acme.example.com (repeatable; secret-looking keys are refused).",
                metavar="KEY=VALUE",
            ),
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
            credentials_stdin=credentials_stdin,
            fields=list(field or []),
        )
        execute(ctx, run, options, json_mode=json_mode, verbose=verbose, debug=debug)
