"""The measures of the issue's table, each against the sandbox behind the latency relay.

Every measure first proves that both sides do the job (right exit code, right output, the
same messages read) and only then times them; a measure returns a `Row` for the table.
"""

from __future__ import annotations

import re
import ssl
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from .sandbox import SK, Sandbox
from .sdk import CONSTRUCT_CLIENT, SdkVenv
from .timing import Command, Stats, alternate, check, run_once, stats

BASELINES = Path(__file__).resolve().parent / "baselines"
USER = "bench_user"
GMAIL_LIMIT = 20
# The sandbox mailbox holds 24-32 messages of which 12-16 are unread; the inbox query gives
# both sides the same 20 messages to read.
GMAIL_QUERY = "in:inbox"
GMAIL_MESSAGE_PATH = "/gmail/v1/users/me/messages/"
GMAIL_BATCH_PATH = "/batch/gmail/v1"  # Gmail's batch endpoint: many calls, one answer
BATCHED_READ = re.compile(r"^GET /gmail/v1/users/me/messages/(\S+)", re.MULTILINE)


@dataclass
class Row:
    measure: str
    target: str
    result: str
    met: bool | None  # None: skipped
    a: Stats | None = None
    b: Stats | None = None
    a_command: str = ""
    b_command: str = ""
    note: str = ""


@dataclass
class Context:
    """Where and how the measured commands run: a user's environment pointed at the sandbox,
    with private cache/data/config directories and a working directory without `.env`."""

    sandbox: Sandbox
    env: dict[str, str]
    cwd: Path
    smoke: bool = False  # a smoke run judges no timing

    def sk(self, label: str, *args: str, expect_exit: int = 0) -> Command:
        return Command(label, [str(SK), *args], self.env, self.cwd, expect_exit)

    def python(self, label: str, *args: str, python: Path | None = None) -> Command:
        return Command(label, [str(python or sys.executable), *args], self.env, self.cwd)


def judged(met: bool, smoke: bool) -> bool | None:
    """A timing's verdict; none in a smoke run, whose one or two samples prove nothing."""
    return None if smoke else met


def ratio_row(
    measure: str,
    a: Command,
    b: Command,
    runs: int,
    warmup: int,
    limit: float,
    smoke: bool,
) -> Row:
    samples_a, samples_b = alternate([a, b], runs, warmup)
    stats_a, stats_b = stats(samples_a), stats(samples_b)
    ratio = stats_a.median / stats_b.median
    return Row(
        measure,
        f"≤ {limit:.2f}×",
        f"{ratio:.2f}×",
        judged(ratio <= limit, smoke),
        stats_a,
        stats_b,
        a.shell(),
        b.shell(),
    )


# -- the conditions ---------------------------------------------------------------------------


@dataclass
class Conditions:
    """What one request costs through the relay, measured by the harness's own client."""

    round_trip_ms: float  # the relay's setting
    fresh_ms: float  # a new connection: TCP + TLS handshakes + the request (median)
    kept_alive_ms: float  # the same request on an open connection (median)


def measure_conditions(ctx: Context, samples: int) -> Conditions:
    sandbox = ctx.sandbox
    trust = ssl.create_default_context(cafile=ctx.env["SSL_CERT_FILE"])
    url = f"{sandbox.url}/api/v1/connected_accounts/auth"
    query = {"connector": "gmail", "identifier": USER}
    headers = {"authorization": f"Bearer {sandbox.machine_token()}"}
    fresh, kept = [], []
    for _ in range(samples):
        with httpx.Client(verify=trust, timeout=30) as client:
            started = time.perf_counter()
            client.get(url, params=query, headers=headers).raise_for_status()
            middle = time.perf_counter()
            client.get(url, params=query, headers=headers).raise_for_status()
            fresh.append(middle - started)
            kept.append(time.perf_counter() - middle)
    return Conditions(sandbox.round_trip_ms, Stats(fresh).median * 1000, Stats(kept).median * 1000)


# -- sk token ------------------------------------------------------------------------------


def token_command(ctx: Context) -> Command:
    # --debug: into a pipe, sk prints the token itself only when asked to.
    return ctx.sk("sk token", "token", "gmail", "--user", USER, "--debug")


def quickstart_token_command(ctx: Context) -> Command:
    return ctx.python(
        "quickstart httpx script", str(BASELINES / "quickstart_token.py"), "gmail", USER
    )


def floor_command(ctx: Context) -> Command:
    return ctx.python(
        "Typer + httpx floor", str(BASELINES / "floor_typer_httpx.py"), "gmail", "--user", USER
    )


def prove_token(ctx: Context) -> str:
    """`sk token` and both scripts print the account's access token; returns it. Also warms
    sk's machine-token cache, which every later `sk token` run relies on."""
    answer = ctx.sandbox.api(
        "GET", "/api/v1/connected_accounts/auth", params={"connector": "gmail", "identifier": USER}
    )
    answer.raise_for_status()
    expected = answer.json()["connected_account"]["authorization_details"]["oauth_token"]
    for command in (token_command(ctx), quickstart_token_command(ctx), floor_command(ctx)):
        stdout, _ = check(command)
        if stdout.strip() != expected["access_token"]:
            raise RuntimeError(f"`{command.shell()}` did not print the account's access token")
    return expected["access_token"]


def through_relay(ctx: Context, log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The request log, once every request in it is known to have come through the relay
    (by the Host it named): a measure that bypassed the latency would be worthless."""
    relay_host = urlsplit(ctx.sandbox.url).netloc
    for entry in log:
        host = entry.get("headers", {}).get("host")
        if host != relay_host:
            raise RuntimeError(
                f"{entry['method']} {entry['path']} reached the sandbox at {host!r}, "
                f"not through the relay ({relay_host})"
            )
    return log


def requests_per_token(ctx: Context) -> Row:
    """Count what reaches the sandbox for one warm `sk token` (and, for contrast, the others)."""
    counts: dict[str, int] = {}
    seen: list[str] = []
    for command in (token_command(ctx), floor_command(ctx), quickstart_token_command(ctx)):
        ctx.sandbox.clear_requests()
        run_once(command)
        entries = through_relay(ctx, ctx.sandbox.requests())
        log = [f"{entry['method']} {entry['path']}" for entry in entries]
        counts[command.label] = len(log)
        seen = seen or log
    return Row(
        "requests per warm `sk token`",
        "exactly 1",
        str(len(seen)),
        len(seen) == 1,  # a count, not a timing: judged in a smoke run too
        note=f"sk: {', '.join(seen) or 'none'}; the floor makes "
        f"{counts['Typer + httpx floor']}, the quickstart script "
        f"{counts['quickstart httpx script']}",
    )


def token_vs_floor(ctx: Context, runs: int, warmup: int) -> Row:
    return ratio_row(
        "`sk token`, warm cache ÷ the floor (Typer + one httpx request)",
        token_command(ctx),
        floor_command(ctx),
        runs,
        warmup,
        1.10,
        ctx.smoke,
    )


def token_vs_quickstart(ctx: Context, runs: int, warmup: int) -> Row:
    return ratio_row(
        "`sk token`, warm cache ÷ quickstart httpx script",
        token_command(ctx),
        quickstart_token_command(ctx),
        runs,
        warmup,
        1.20,
        ctx.smoke,
    )


def token_vs_sdk(ctx: Context, runs: int, warmup: int, sdk: SdkVenv | str | None) -> Row:
    measure = "`sk token`, warm cache ÷ SDK import + `ScalekitClient(…)`"
    if not isinstance(sdk, SdkVenv):
        reason = sdk if isinstance(sdk, str) else "run make bench-sdk"
        return Row(measure, "≤ 0.70×", f"skipped: {reason}", None)
    construct = ctx.python(
        f"scalekit-sdk-python {sdk.version}", "-c", CONSTRUCT_CLIENT, python=sdk.python
    )
    ctx.sandbox.clear_requests()
    check(construct)
    made = [f"{e['method']} {e['path']}" for e in through_relay(ctx, ctx.sandbox.requests())]
    row = ratio_row(measure, token_command(ctx), construct, runs, warmup, 0.70, ctx.smoke)
    row.note = (
        f"scalekit-sdk-python {sdk.version}; its client start makes {len(made)} request(s)"
        + (f" ({', '.join(made)})" if made else "")
    )
    return row


# -- start-up --------------------------------------------------------------------------------


HELP_LIMIT_MS = 60.0


def help_vs_typer(ctx: Context, runs: int, warmup: int) -> Row:
    sk_help = ctx.sk("sk --help", "--help")
    stdout, _ = check(sk_help)
    if "Usage" not in stdout:
        raise RuntimeError(f"`{sk_help.shell()}` printed no usage")
    typer_import = ctx.python("python -c 'import typer'", "-c", "import typer")
    check(typer_import)
    samples_a, samples_b = alternate([sk_help, typer_import], runs, warmup)
    stats_a, stats_b = stats(samples_a), stats(samples_b)
    extra_ms = (stats_a.median - stats_b.median) * 1000
    return Row(
        '`sk --help` − `python -c "import typer"`',
        f"≤ {HELP_LIMIT_MS:.0f} ms more",
        f"{extra_ms:+.0f} ms",
        judged(extra_ms <= HELP_LIMIT_MS, ctx.smoke),
        stats_a,
        stats_b,
        sk_help.shell(),
        'python -c "import typer"',
    )


# -- Gmail -----------------------------------------------------------------------------------


def gmail_commands(ctx: Context) -> tuple[Command, Command]:
    sk_unread = ctx.sk(
        "sk gmail unread",
        "gmail",
        "unread",
        "--user",
        USER,
        "--limit",
        str(GMAIL_LIMIT),
        "--query",
        GMAIL_QUERY,
    )
    loop = ctx.python(
        "quickstart one-by-one loop",
        str(BASELINES / "quickstart_gmail.py"),
        USER,
        str(GMAIL_LIMIT),
        GMAIL_QUERY,
    )
    return sk_unread, loop


def messages_read(ctx: Context, command: Command) -> list[str]:
    """The ids of the messages whose metadata the command fetched, one by one or batched."""
    ctx.sandbox.clear_requests()
    stdout, _ = check(command)
    lines = [line for line in stdout.splitlines() if line.strip()]
    if len(lines) != GMAIL_LIMIT + 1:  # a header line, then one per message
        raise RuntimeError(f"`{command.shell()}` printed {len(lines)} lines:\n{stdout}")
    read = []
    for entry in through_relay(ctx, ctx.sandbox.requests()):
        if entry["path"].startswith(GMAIL_MESSAGE_PATH):
            read.append(entry["path"].removeprefix(GMAIL_MESSAGE_PATH))
        elif entry["path"] == GMAIL_BATCH_PATH:
            read += [m.split("?")[0] for m in BATCHED_READ.findall(entry["body"])]
    return read


def gmail_vs_loop(ctx: Context, runs: int, warmup: int) -> Row:
    sk_unread, loop = gmail_commands(ctx)
    read_by_sk, read_by_loop = messages_read(ctx, sk_unread), messages_read(ctx, loop)
    if sorted(read_by_sk) != sorted(read_by_loop) or len(set(read_by_sk)) != GMAIL_LIMIT:
        raise RuntimeError(f"sk and the loop did not read the same {GMAIL_LIMIT} messages")
    row = ratio_row(
        f"`sk gmail unread --limit {GMAIL_LIMIT}` ÷ one-by-one loop on one client",
        sk_unread,
        loop,
        runs,
        warmup,
        0.45,
        ctx.smoke,
    )
    row.note = f"both read the same {GMAIL_LIMIT} messages (checked in the request log)"
    return row
