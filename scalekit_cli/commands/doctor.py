"""`sk doctor [--user ID]` — check that `sk` can work from here: one line per check, with a fix.

Checks, in order: the configuration (and where each setting came from); the environment URL
(well-formed, reachable, time to first byte); the client credentials; clock skew against the
server's `Date`; the token cache directory's permissions; the keyring backend (when a profile
is, or would have to be, in use); which `sk` the shell finds first on PATH; and, with
`--user`, the Gmail API when that user has a gmail account.

A check that does not apply is skipped (`-`) with the reason; a warning (`!`) does not fail.
Exit 0 when every check that applies passes, 5 when the configuration is missing or invalid,
1 when any other check fails — so `sk doctor` can gate a CI job configured by the environment.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..cli.commands import SkCommand
from ..errors import CliError, ExitCode, connect_command
from ..runtime import Runtime
from ._common import (
    DebugOption,
    JsonOption,
    VerboseOption,
    execute,
    user_id,
    validate_identifier,
)

if TYPE_CHECKING:
    from ..scalekit.client import ScalekitClient

PASS, FAIL, SKIP, WARN = "pass", "fail", "skip", "warn"
MARKS = {PASS: "✓", FAIL: "✗", SKIP: "-", WARN: "!"}
# Links' expiry times come from the server and are compared with this clock: a clock a minute
# off shows wrong countdowns, one ten minutes off takes every fresh link for an expired one.
MAX_CLOCK_SKEW_SECONDS = 60.0
GMAIL_CONNECTOR = "gmail"


@dataclass
class DoctorOptions:
    identifier: str | None = None
    json: bool = False


@dataclass(frozen=True)
class Check:
    """One line of the report; `fix` says what to do when the check fails."""

    name: str
    status: str
    detail: str
    fix: str = ""


@dataclass
class Probe:
    """The environment's answer to one plain GET, shared by the reachability and clock checks."""

    status: int
    first_byte_seconds: float
    date_header: str
    local_midpoint: float  # this machine's time halfway through the exchange


class Diagnosis:
    """What the checks learn and share: settings, the probe's answer, the API client."""

    def __init__(self, runtime: Runtime, identifier: str | None) -> None:
        self.runtime = runtime
        self.identifier = identifier
        self.configured = False
        self.env_url = ""
        self.probe: Probe | None = None
        self.client: ScalekitClient | None = None
        self.uses_profile = False  # a stored profile supplies a setting (and its secret)


# -- the checks ----------------------------------------------------------------------------------


def check_configuration(diagnosis: Diagnosis) -> Check:
    runtime = diagnosis.runtime
    try:
        settings = runtime.settings
        sandbox = runtime.sandbox
    except CliError as exc:
        return Check(
            "configuration",
            FAIL,
            exc.message,
            "see docs/configuration.md; or try the local sandbox: sk --sandbox doctor",
        )
    diagnosis.configured = True
    sources = settings.sources
    diagnosis.uses_profile = any(
        name != "profile" and source.startswith("profile ") for name, source in sources.items()
    )
    if sandbox is not None:
        diagnosis.env_url = sandbox.base_url
        return Check(
            "configuration",
            PASS,
            f"the embedded sandbox, from {sources.get('env_url', 'flag --sandbox')}",
        )
    diagnosis.env_url = settings.env_url
    return Check(
        "configuration",
        PASS,
        f"environment URL from {sources.get('env_url', '?')}, client id {settings.client_id} "
        f"from {sources.get('client_id', '?')}, client secret from "
        f"{sources.get('client_secret', '?')}",
    )


def check_environment(diagnosis: Diagnosis) -> Check:
    """Well-formed (it passed configuration) and reachable: one GET, timed to its first byte."""
    if not diagnosis.configured:
        return Check("environment", SKIP, "needs a configuration")
    from ..scalekit.errors import ConfigurationError, NetworkError
    from ..scalekit.http import HttpSession, RetryPolicy
    from ..scalekit.transport import tls_context

    runtime = diagnosis.runtime
    sandbox = runtime.sandbox
    url = diagnosis.env_url
    # The embedded sandbox answers in-process at a placeholder host: name it, not the host.
    shown = "the embedded sandbox (in-process)" if sandbox is not None else url
    try:
        if sandbox is None:
            tls_context()  # a CA variable that cannot be used is this check's failure
    except ConfigurationError as exc:
        return Check(
            "environment", FAIL, str(exc), "point the variable at a PEM file of CA certificates"
        )
    # A session of its own: a diagnosis reports the first failure rather than retrying past it.
    session = HttpSession(
        timeout=runtime.settings.timeout,
        transport=sandbox.transport() if sandbox is not None else None,
        retry=RetryPolicy(max_retries=0),
        user_agent=runtime.session().user_agent,
    )
    started = time.time()
    try:
        response = session.send("GET", f"{url}/", idempotent=True)
    except NetworkError as exc:
        return Check(
            "environment",
            FAIL,
            f"{shown} cannot be reached: {exc}",
            f"check the URL, the network and any proxy (HTTPS_PROXY) on the way to {exc.host}",
        )
    except ConfigurationError as exc:  # a proxy variable sk cannot use
        return Check("environment", FAIL, str(exc), "point it at an http:// proxy")
    finally:
        session.close()
    first_byte = response.elapsed
    status = response.status_code
    date_header = response.headers.get("date", "")
    diagnosis.probe = Probe(status, first_byte, date_header, started + first_byte / 2)
    # The API lives under /api and /oauth: the root has nothing to serve, and any answer from it
    # proves the host is there. Only a server error there is worth a word.
    verdict = "a server error" if status >= 500 else "as expected"
    return Check(
        "environment",
        PASS,
        f"reachable (HTTP {status} on /, {verdict}): {shown}, "
        f"first byte after {first_byte * 1000:.0f} ms",
    )


def check_credentials(diagnosis: Diagnosis) -> Check:
    """A fresh token exchange (never the cached token), then one API call with the token."""
    if diagnosis.probe is None:
        return Check("credentials", SKIP, "needs a reachable environment")
    from ..scalekit.client import ScalekitClient
    from ..scalekit.errors import CredentialsRejected, ScalekitError

    runtime = diagnosis.runtime
    settings = runtime.settings
    sandbox = runtime.sandbox
    if sandbox is not None:
        client_id, client_secret = sandbox.settings.client_id, sandbox.settings.client_secret
    else:
        client_id, client_secret = settings.client_id, settings.client_secret
    client = ScalekitClient(
        diagnosis.env_url,
        client_id,
        client_secret,
        session=runtime.session(),
        secrets=runtime.out.secrets,
        token_cache=None,
    )
    try:
        client.machine_token()
        client.list_accounts_page(page_size=1)
    except CredentialsRejected as exc:
        return Check(
            "credentials",
            FAIL,
            str(exc),
            "copy the client id and secret again from the dashboard (Developers → Settings → "
            "API Credentials) into SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET",
        )
    except ScalekitError as exc:
        from ._common import describe_failure

        return Check(
            "credentials",
            FAIL,
            describe_failure(exc)[1],
            "rerun with -v to see the exchange; check the environment URL",
        )
    diagnosis.client = client
    return Check("credentials", PASS, f"client {client_id} accepted; the API answers its token")


def check_clock(diagnosis: Diagnosis) -> Check:
    probe = diagnosis.probe
    if probe is None:
        return Check("clock", SKIP, "needs a reachable environment")
    try:
        from email.utils import parsedate_to_datetime

        server = parsedate_to_datetime(probe.date_header)
    except (TypeError, ValueError):
        return Check("clock", SKIP, "the server sent no usable Date header")
    if server.tzinfo is None:
        server = server.replace(tzinfo=UTC)
    local = datetime.fromtimestamp(probe.local_midpoint, tz=UTC)
    skew = (local - server).total_seconds()
    # Date has a resolution of one second; anything within it is no skew at all.
    if abs(skew) <= 1.0:
        return Check("clock", PASS, "within 1 s of the server's")
    direction = "ahead of" if skew > 0 else "behind"
    detail = f"{abs(skew):.0f} s {direction} the server's"
    if abs(skew) <= MAX_CLOCK_SKEW_SECONDS:
        return Check("clock", PASS, detail)
    return Check(
        "clock",
        FAIL,
        f"{detail} (more than {MAX_CLOCK_SKEW_SECONDS:.0f} s: link expiry times will be wrong)",
        "synchronise this machine's clock (NTP, e.g. `timedatectl set-ntp true`)",
    )


def check_cache_directory(diagnosis: Diagnosis) -> Check:
    """The machine-token cache: the directory 0700, its files 0600, both ours, writable."""
    from ..scalekit.paths import cache_dir

    directory = cache_dir() / "tokens"
    if os.name != "posix":
        return Check("cache", SKIP, f"{directory}: permissions are not checked on this system")
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing != directory:
        if not os.access(existing, os.W_OK | os.X_OK):
            return Check(
                "cache",
                FAIL,
                f"{directory} cannot be created: {existing} is not writable",
                f"make {existing} writable, or set SK_CACHE_DIR to a directory you own",
            )
        return Check("cache", PASS, f"{directory} will be created, mode 0700")
    info = directory.stat()
    mode = stat.S_IMODE(info.st_mode)
    if info.st_uid != os.getuid():
        return Check(
            "cache",
            FAIL,
            f"{directory} belongs to uid {info.st_uid}, not to you",
            f"set SK_CACHE_DIR to a directory you own, or: chown -R $(id -u) {directory}",
        )
    if mode & 0o077:
        return Check(
            "cache",
            FAIL,
            f"{directory} has mode {mode:04o}: other users may enter it",
            f"chmod 700 {directory}",
        )
    loose = [path.name for path in _token_files(directory) if _mode(path) & 0o077]
    if loose:
        return Check(
            "cache",
            FAIL,
            f"{len(loose)} token file(s) in {directory} readable by others ({', '.join(loose)})",
            f"chmod 600 {directory}/*",
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        return Check(
            "cache",
            FAIL,
            f"{directory} is not writable: every run fetches a new machine token",
            f"chmod u+rwx {directory}, or set SK_CACHE_DIR to a directory you own",
        )
    return Check("cache", PASS, f"{directory}, mode 0700, files 0600")


def _token_files(directory: Path) -> list[Path]:
    try:
        return sorted(path for path in directory.iterdir() if path.is_file())
    except OSError:
        return []


def _mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0


def check_keyring(diagnosis: Diagnosis) -> Check:
    """The backend `sk login` would keep a profile's secret in, by the same policy (profiles.py):
    the configured one, else a recommended one; never the fail or null backends. It applies
    when a stored profile is in use, or when there is no configuration yet (`sk login` is one
    way to make one); credentials from the environment need no keyring."""
    if diagnosis.configured and not diagnosis.uses_profile:
        return Check("keyring", SKIP, "no profile in use (the credentials need no keyring)")
    from ..profiles import KeyringUnavailable, backend_name, keyring_backend

    try:
        backend = keyring_backend()
    except KeyringUnavailable as exc:
        return Check(
            "keyring",
            FAIL,
            exc.message.removeprefix("no usable keyring backend for the client secret: "),
            "keep the secret in SCALEKIT_CLIENT_SECRET (no keyring needed), or install a backend "
            "(`pip install keyrings.alt`, then PYTHON_KEYRING_BACKEND="
            "keyrings.alt.file.PlaintextKeyring if a plaintext file is acceptable)",
        )
    name = backend_name(backend)
    note = " (stores secrets unencrypted in a file)" if "Plaintext" in name else ""
    return Check("keyring", PASS, f"{name}{note}")


def check_path(diagnosis: Diagnosis) -> Check:
    """Which `sk` a shell runs: another program of the same name earlier on PATH (Scalekit's
    npm CLI, `@scalekit-inc/cli`, installs one) would answer every command copied from here."""
    import shutil

    this = _this_program()
    found = shutil.which("sk")
    if found is None:
        return Check("path", SKIP, f"no `sk` on PATH; this one is {this}")
    first = Path(found)
    if _same_file(first, this):
        return Check("path", PASS, f"the first `sk` on PATH is this one ({first})")
    what = _describe_program(first)
    return Check(
        "path",
        WARN,
        f"the first `sk` on PATH is {first}{what}, not this one ({this}); "
        f"a plain `sk` runs that program",
        f"put {this.parent} earlier on PATH, or run {this}",
    )


def _this_program() -> Path:
    import sys

    launched = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if launched is not None and launched.name == "sk" and launched.is_file():
        return launched.absolute()
    return Path(sys.executable).with_name("sk")  # `python -m scalekit_cli`: the venv's script


def _same_file(one: Path, other: Path) -> bool:
    try:
        return one.resolve() == other.resolve() or os.path.samefile(one, other)
    except OSError:
        return False


def _describe_program(path: Path) -> str:
    """What the other `sk` is, when that can be told from its file: npm's shim links into
    node_modules; a Python console script of this CLI names its package."""
    try:
        real = path.resolve()
        head = real.read_bytes()[:4096].decode("utf-8", "replace")
    except OSError:
        return ""
    shebang = head.splitlines()[0] if head.startswith("#!") else ""
    if "node_modules" in real.parts or "node" in shebang:
        return " (a Node.js program: Scalekit's npm CLI @scalekit-inc/cli installs one)"
    if "scalekit_cli" in head:
        return " (another install of this CLI)"
    return ""


def check_gmail(diagnosis: Diagnosis) -> Check:
    identifier = diagnosis.identifier
    if identifier is None:
        return Check("gmail", SKIP, "add --user ID to check the Gmail API with that user's account")
    client = diagnosis.client
    if client is None:
        return Check("gmail", SKIP, "needs accepted credentials")
    from ..scalekit.errors import NotFound, ProviderError, ScalekitError
    from ._common import describe_failure

    runtime = diagnosis.runtime
    reconnect = connect_command(GMAIL_CONNECTOR, identifier, **runtime.connect_hint_args())
    try:
        account = client.get_account(GMAIL_CONNECTOR, identifier, credentials=True)
    except NotFound:
        return Check("gmail", SKIP, f"{identifier!r} has no {GMAIL_CONNECTOR} account")
    except ScalekitError as exc:
        return Check("gmail", FAIL, describe_failure(exc)[1], "rerun with -v to see the exchange")
    token = account.authorization_details.oauth_token if account.authorization_details else None
    if not account.is_active or token is None or not token.access_token:
        return Check(
            "gmail",
            FAIL,
            f"the {GMAIL_CONNECTOR} account of {identifier!r} is {account.status or 'not active'}",
            reconnect,
        )
    gmail = runtime.gmail(token.access_token)  # says where the token goes, when not Google
    base = gmail.base_url
    started = time.monotonic()
    try:
        gmail.list_message_ids("in:inbox", 1)
    except ProviderError as exc:
        if exc.status == 401:
            return Check(
                "gmail", FAIL, f"Gmail refused the account's token ({exc})", reconnect + " --force"
            )
        return Check("gmail", FAIL, describe_failure(exc)[1], "try again later; see -v")
    except ScalekitError as exc:
        return Check(
            "gmail",
            FAIL,
            describe_failure(exc)[1],
            "check the network and any proxy on the way to the Gmail API (SK_GMAIL_API_URL)",
        )
    elapsed = (time.monotonic() - started) * 1000
    return Check("gmail", PASS, f"{base} answered for {identifier!r} in {elapsed:.0f} ms")


CHECKS: tuple[Callable[[Diagnosis], Check], ...] = (
    check_configuration,
    check_environment,
    check_credentials,
    check_clock,
    check_cache_directory,
    check_keyring,
    check_path,
    check_gmail,
)


# -- the command ---------------------------------------------------------------------------------


def run(options: DoctorOptions, runtime: Runtime) -> int:
    if options.identifier is not None:
        validate_identifier(options.identifier)
    out = runtime.out
    diagnosis = Diagnosis(runtime, options.identifier)
    checks: list[Check] = []
    for check in CHECKS:
        result = check(diagnosis)
        checks.append(result)
        if not options.json:
            mark, line = _line(runtime, result)
            out.result(line, mark=mark)
    failed = [check.name for check in checks if check.status == FAIL]
    if options.json:
        out.json({"ok": not failed, "checks": [asdict(check) for check in checks]})
    if not diagnosis.configured:
        raise CliError("no usable configuration (see the checks above)", ExitCode.CONFIG)
    if failed:
        raise CliError(f"{len(failed)} check(s) failed: {', '.join(failed)}", ExitCode.FAILURE)
    return ExitCode.OK


def _line(runtime: Runtime, check: Check) -> tuple[str, str]:
    """The check's mark (styled by us) and its text (which may quote a server)."""
    out = runtime.out
    mark = MARKS[check.status]
    if out.color and out.stdout_tty:
        colour = {PASS: "32", FAIL: "31", SKIP: "2", WARN: "33"}[check.status]
        mark = f"\033[{colour}m{mark}\033[0m"
    line = f" {check.name:<13} {check.detail}"
    if check.status in (FAIL, WARN) and check.fix:
        line += f" — fix: {check.fix}"
    return mark, line


def register(app: typer.Typer) -> None:
    @app.command(
        "doctor",
        cls=SkCommand,
        epilog="""
            sk doctor
            sk doctor --user user_123 --json
        """,
    )
    def doctor_command(
        ctx: typer.Context,
        user: Annotated[
            str | None,
            typer.Option(
                "--user",
                "-u",
                help="Also check the Gmail API with this user's gmail account.",
                metavar="ID",
                parser=user_id,
            ),
        ] = None,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Check configuration, reachability, credentials, clock, cache and keyring."""
        options = DoctorOptions(user, json_mode)
        execute(ctx, run, options, json_mode=json_mode, verbose=verbose, debug=debug)
