"""The fault matrix as data: every network-facing request of every command (rows) × every fault
the sandbox can inject (columns), and the outcome each cell must have.

One structure feeds both the test parametrization (`test_fault_matrix.py`) and the tables of
`docs/reliability.md` (`test_reliability_doc.py` renders them from here and compares), so the
document cannot drift from what is asserted. `python -m tests.reliability.matrix` prints the
generated section of the document.

The outcomes are written as rules, the way the retry policy itself is stated (README,
`scalekit_cli/scalekit/http.py`), and rendered cell by cell for the reader.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

MAX_RETRIES = 3  # RetryPolicy.max_retries: the first attempt and three more
PERSISTENT_ATTEMPTS = 1 + MAX_RETRIES

# A hang is an answer that takes longer than SK_HTTP_TIMEOUT; both are small to keep the
# matrix fast, and far enough apart that a loaded CI machine does not blur them.
HANG_TIMEOUT_SECONDS = 0.3
HANG_LATENCY_MS = 1500
ADDED_LATENCY_MS = 200
RETRY_AFTER_SECONDS = 1

# Every cell must end within this, plus whatever its faults make it wait for on purpose.
CELL_TIME_BOUND_SECONDS = 8.0

DETAILS = "/api/v1/connected_accounts/details"
AUTH = "/api/v1/connected_accounts/auth"
ACCOUNTS = "/api/v1/connected_accounts"
MAGIC_LINK = "/api/v1/connected_accounts/magic_link"
DELETE = "/api/v1/connected_accounts:delete"
EXECUTE = "/api/v1/execute_tool"
TOOLS = "/api/v1/tools"
TOOLS_SEARCH = "/api/v1/tools:search"
APP_CONNECTIONS = "/api/v1/connections/app"
TOKEN = "/oauth/token"
GMAIL_LIST = "/gmail/v1/users/me/messages"
GMAIL_BATCH = "/batch/gmail/v1"  # every message's metadata, in one batch request
PROXIED_PROFILE = "/proxy/gmail/v1/users/me/profile"

# Command groups: their sub-commands are the commands (`sk gmail unread`, `sk tools list`).
GROUPS = frozenset({"gmail", "tools", "accounts", "sandbox", "config", "connections"})

# Commands outside the matrix, and why; a test checks that every command is in one or the other.
NOT_IN_MATRIX: dict[str, str] = {
    "demo": "runs on the embedded sandbox, in-process: no network",
    "sandbox serve": "is the local sandbox itself",
    "sandbox reset": "empties the local sandbox's state file: no network",
    "sandbox force": "talks to the embedded sandbox in-process: no network",
    "sandbox seed": "replaces the local sandbox's state file from a seed file: no network",
    "sandbox export": "reads the local sandbox's state file: no network",
    "config show": "reads settings and the profiles file: no network",
    "logout": "removes a profile and its keyring entry: no network",
    "completion": "prints a script shipped in the package: no network",
    "doctor": "reports a failed request as a ✗ check rather than failing; "
    "`tests/cli/test_doctor.py` covers each check",
    "accounts update": "replaces an account's static credentials (PUT): retried like any "
    "write only when the request never left; `tests/cli/test_accounts_manage.py` covers it",
    "mcp install": "edits an MCP client's configuration file: no network",
    "mcp uninstall": "edits an MCP client's configuration file: no network",
    "mcp serve": "a long-running MCP server: a fault ends one tool call in a tool error and "
    "the server keeps serving; `tests/mcp/test_serve.py` injects each kind",
}

# The child `sk run` starts: it succeeds only when it was given a token.
RUN_CHILD = (
    sys.executable,
    "-c",
    "import os, sys; sys.exit(0 if os.environ.get('SCALEKIT_ACCESS_TOKEN') else 9)",
)


@dataclass(frozen=True)
class Row:
    """One request of one command: the faults act on it, and its attempts are counted."""

    key: str
    label: str  # the command, as the document shows it
    args: tuple[str, ...]  # argv after `sk`; "{user}": the cell's identifier, "{env}": its URL
    method: str
    path: str  # exact, or a prefix ending in "*", as the sandbox's faults take it
    idempotent: bool  # may an ambiguous failure be retried?
    first_call: bool  # is it the command's first API call (the one a stale token fails)?
    account: str  # the account the cell needs: "none", "pending" or "active"
    gmail: bool = False  # a request to the Gmail API rather than to the environment
    raw_body: bool = False  # the command passes any answer body through (`sk request`)
    cold_cache: bool = False  # each cell starts without a cached machine token
    optional: bool = False  # an error answer is tolerated: the command goes on without it
    named_as: str = ""  # how an error answer's line names the request, when not as `request`
    stdin: str | None = None  # what the command reads on standard input
    keyring: bool = False  # the command needs a keyring backend (one is chosen explicitly)
    note: str = ""

    @property
    def command(self) -> str:
        """The command's path in the command tree, e.g. `gmail unread`."""
        words = self.label.removeprefix("sk ").split()
        path = [words[0]]
        if words[0] in GROUPS and len(words) > 1:
            path.append(words[1])
        return " ".join(path)

    @property
    def request(self) -> str:
        shown = self.path[:-1] + "{id}" if self.path.endswith("*") else self.path
        return f"{self.method} {shown}"


ROWS: tuple[Row, ...] = (
    Row(
        "connect-read",
        "sk connect gmail --no-wait",
        ("connect", "gmail", "--user", "{user}", "--no-wait"),
        "GET",
        DETAILS,
        idempotent=True,
        first_call=True,
        account="pending",
    ),
    Row(
        "connect-create",
        "sk connect gmail --no-wait",
        ("connect", "gmail", "--user", "{user}", "--no-wait"),
        "POST",
        ACCOUNTS,
        idempotent=False,
        first_call=False,
        account="none",
        note="a new account: read (404), then create",
    ),
    Row(
        "connect-link",
        "sk connect gmail --no-wait",
        ("connect", "gmail", "--user", "{user}", "--no-wait"),
        "POST",
        MAGIC_LINK,
        idempotent=True,
        first_call=False,
        account="pending",
        note="a second link for the same account is harmless",
    ),
    Row(
        "status",
        "sk status gmail",
        ("status", "gmail", "--user", "{user}"),
        "GET",
        DETAILS,
        idempotent=True,
        first_call=True,
        account="active",
    ),
    Row(
        "status-all",
        "sk status",
        ("status", "--user", "{user}"),
        "GET",
        ACCOUNTS,
        idempotent=True,
        first_call=True,
        account="active",
    ),
    Row(
        "token",
        "sk token gmail",
        # --json: in a pipe, plain `sk token` without --debug refuses to print (exit 2).
        ("token", "gmail", "--user", "{user}", "--json"),
        "GET",
        AUTH,
        idempotent=True,
        first_call=True,
        account="active",
    ),
    Row(
        "token-exchange",
        "sk token gmail",
        # --json: in a pipe, plain `sk token` without --debug refuses to print (exit 2).
        ("token", "gmail", "--user", "{user}", "--json"),
        "POST",
        TOKEN,
        idempotent=True,
        first_call=True,
        account="active",
        cold_cache=True,
        note="with a cold cache: the machine-token exchange (client credentials)",
    ),
    Row(
        "gmail-list",
        "sk gmail unread --limit 1",
        ("gmail", "unread", "--user", "{user}", "--limit", "1"),
        "GET",
        GMAIL_LIST,
        idempotent=True,
        first_call=False,
        account="active",
        gmail=True,
    ),
    Row(
        "gmail-read",
        "sk gmail unread --limit 1",
        ("gmail", "unread", "--user", "{user}", "--limit", "1"),
        "POST",
        GMAIL_BATCH,
        idempotent=True,
        first_call=False,
        account="active",
        gmail=True,
    ),
    Row(
        "exec-tool-schema",
        "sk exec-tool gmail_get_profile",
        ("exec-tool", "gmail_get_profile", "--user", "{user}"),
        "GET",
        TOOLS,
        idempotent=True,
        first_call=True,
        account="active",
        optional=True,
        note="the tool's input schema, read to check the params; an error answer is skipped",
    ),
    Row(
        "exec-tool",
        "sk exec-tool gmail_get_profile",
        ("exec-tool", "gmail_get_profile", "--user", "{user}"),
        "POST",
        EXECUTE,
        idempotent=False,
        first_call=False,
        account="active",
        note="after the tool's schema is read",
    ),
    Row(
        "tools-list",
        "sk tools list",
        ("tools", "list"),
        "GET",
        TOOLS,
        idempotent=True,
        first_call=True,
        account="none",
    ),
    Row(
        "tools-search",
        "sk tools search 'send a message'",
        ("tools", "search", "send a message"),
        "POST",
        TOOLS_SEARCH,
        idempotent=True,
        first_call=True,
        account="none",
    ),
    Row(
        "connections-list",
        "sk connections list",
        ("connections", "list"),
        "GET",
        APP_CONNECTIONS,
        idempotent=True,
        first_call=True,
        account="none",
    ),
    Row(
        "sandbox-snapshot",
        "sk sandbox snapshot",
        ("sandbox", "snapshot"),
        "GET",
        APP_CONNECTIONS,
        idempotent=True,
        first_call=True,
        account="none",
        note="the first of its list calls; the others are the same kind of paged GET",
    ),
    Row(
        "tools-show",
        "sk tools show gmail_fetch_mails",
        ("tools", "show", "gmail_fetch_mails"),
        "GET",
        TOOLS,
        idempotent=True,
        first_call=True,
        account="none",
    ),
    Row(
        "accounts-list",
        "sk accounts list",
        ("accounts", "list", "--user", "{user}"),
        "GET",
        ACCOUNTS,
        idempotent=True,
        first_call=True,
        account="active",
    ),
    Row(
        "disconnect",
        "sk disconnect gmail --yes",
        ("disconnect", "gmail", "--user", "{user}", "--yes"),
        "POST",
        DELETE,
        idempotent=False,
        first_call=True,
        account="pending",
    ),
    Row(
        "request",
        "sk request gmail /gmail/v1/users/me/profile",
        ("request", "gmail", "--user", "{user}", "/gmail/v1/users/me/profile"),
        "GET",
        PROXIED_PROFILE,
        idempotent=True,
        first_call=True,
        account="active",
        raw_body=True,
        named_as="GET /gmail/v1/users/me/profile",
        note="the body is passed through as it came",
    ),
    Row(
        "login",
        "sk login --client-secret-stdin",
        (
            "login",
            "--profile",
            "matrix",
            "--env-url",
            "{env}",
            "--client-id",
            "{client_id}",
            "--client-secret-stdin",
        ),
        "POST",
        TOKEN,
        idempotent=True,
        first_call=True,
        account="none",
        stdin="{client_secret}\n",
        keyring=True,
        note="the credentials are proven with a fresh machine token, never a cached one",
    ),
    Row(
        "run",
        "sk run gmail -- CMD",
        ("run", "gmail", "--user", "{user}", "--", *RUN_CHILD),
        "GET",
        AUTH,
        idempotent=True,
        first_call=True,
        account="active",
    ),
)


@dataclass(frozen=True)
class Fault:
    """One column. `kind` says how it is injected; `spec` is the sandbox fault for path faults."""

    key: str
    legend: str
    kind: str  # "path", "machine_token_revoked", "gmail_401_once", "gmail_revoked", "down"
    spec: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)

    @property
    def persistent(self) -> bool:
        return self.spec.get("times") is None

    @property
    def slug(self) -> str:
        return self.key.replace("×1", "-once").replace("×∞", "-always").replace(" ", "")


def _status(status: int, times: int | None, **extra: object) -> Fault:
    key = f"{status}×{'1' if times == 1 else '∞'}"
    how = "once" if times == 1 else "on every attempt"
    legend = f"HTTP {status} {how}"
    if "retry_after" in extra:
        legend += f", with `Retry-After: {extra['retry_after']}`"
    return Fault(key, legend, "path", {"kind": "status", "status": status, "times": times, **extra})


FAULTS: tuple[Fault, ...] = (
    Fault(
        "slow",
        f"{ADDED_LATENCY_MS} ms added to every attempt (well under `SK_HTTP_TIMEOUT`)",
        "path",
        {"kind": "latency", "latency_ms": ADDED_LATENCY_MS, "times": None},
    ),
    *(_status(status, 1) for status in (500, 502, 503, 504)),
    *(_status(status, None) for status in (500, 502, 503, 504)),
    _status(429, 1, retry_after=RETRY_AFTER_SECONDS),
    _status(429, None, retry_after=0),
    Fault(
        "drop×1", "the connection dropped mid-answer, once", "path", {"kind": "drop", "times": 1}
    ),
    Fault(
        "drop×∞",
        "the connection dropped mid-answer, every time",
        "path",
        {"kind": "drop", "times": None},
    ),
    Fault(
        "hang×1",
        f"no answer for {HANG_LATENCY_MS} ms with `SK_HTTP_TIMEOUT={HANG_TIMEOUT_SECONDS:g}`, once",
        "path",
        {"kind": "latency", "latency_ms": HANG_LATENCY_MS, "times": 1},
        {"SK_HTTP_TIMEOUT": f"{HANG_TIMEOUT_SECONDS:g}"},
    ),
    Fault(
        "hang×∞",
        f"no answer for {HANG_LATENCY_MS} ms with `SK_HTTP_TIMEOUT={HANG_TIMEOUT_SECONDS:g}`, "
        "every time",
        "path",
        {"kind": "latency", "latency_ms": HANG_LATENCY_MS, "times": None},
        {"SK_HTTP_TIMEOUT": f"{HANG_TIMEOUT_SECONDS:g}"},
    ),
    Fault(
        "html",
        "HTTP 200 whose body is an HTML page, not JSON (a proxy's error page), every time",
        "path",
        {"kind": "not_json", "times": None},
    ),
    Fault(
        "token401",
        "the cached machine token is no longer accepted (`POST /_sandbox/machine_tokens/revoke`)",
        "machine_token_revoked",
    ),
    Fault(
        "gmail401×1",
        "Gmail answers 401 to `messages.list` once (a token revoked just after it was read)",
        "gmail_401_once",
    ),
    Fault(
        "gmail401×∞",
        "the account's grant is gone: Gmail answers 401 to every token "
        "(`POST /_sandbox/accounts/revoke`)",
        "gmail_revoked",
    ),
    Fault(
        "down",
        "the row's host refuses connections (nothing listens on the port)",
        "down",
    ),
)


@dataclass(frozen=True)
class Outcome:
    """What a cell must end with: its exit code, how many attempts of the row's request the
    sandbox saw (for `down`: connection attempts, from the `-v` trace), and fragments the one
    `sk: …` error line must hold (the cause, and the host or the request)."""

    exit_code: int
    attempts: int
    line: tuple[str, ...] = ()

    def cell(self) -> str:
        if self.exit_code == 0:
            return f"✓ {self.attempts}"
        return f"✗{self.exit_code} · {self.attempts}"


DROP_CAUSE = "the connection was closed before a complete answer"
HANG_CAUSE = f"no answer within {HANG_TIMEOUT_SECONDS:g} s"
HOST = "127.0.0.1"


def _where(row: Row) -> str:
    """How an HTTP error answer names where it came from: the request for the environment's
    API, the host for Gmail (whose error bodies name neither)."""
    if row.named_as:
        return row.named_as
    return HOST if row.gmail else f"{row.method} {row.path}"


def expected(row: Row, fault: Fault) -> Outcome | None:
    """The outcome of one cell, or None where the fault cannot touch the row."""
    spec = fault.spec
    once = spec.get("times") == 1
    repeatable_attempts = PERSISTENT_ATTEMPTS if row.idempotent else 1
    if fault.kind == "path":
        kind = spec["kind"]
        if kind == "latency" and spec["latency_ms"] < HANG_TIMEOUT_SECONDS * 1000:
            return Outcome(0, 1)
        if kind == "status":
            status = spec["status"]
            # 429 means "not processed": any call may be repeated after it.
            attempts = PERSISTENT_ATTEMPTS if status == 429 else repeatable_attempts
            if once and attempts > 1:
                return Outcome(0, 2)
            if row.optional:
                return Outcome(0, attempts)
            return Outcome(1, attempts, (f"HTTP {status}", _where(row)))
        cause = {"drop": DROP_CAUSE, "latency": HANG_CAUSE}.get(kind)
        if cause is not None:
            if once and row.idempotent:
                return Outcome(0, 2)
            return Outcome(1, repeatable_attempts, (cause, f"cannot reach {HOST}"))
        if kind == "not_json":
            # A 200 is a final answer: retrying a proxy's HTML page does not turn it into JSON.
            if row.raw_body or row.optional:
                return Outcome(0, 1)
            return Outcome(1, 1, ("not JSON", HOST))
        raise AssertionError(f"no rule for {fault}")
    if fault.kind == "machine_token_revoked":
        # The command's first API call is refused (401); sk renews the token once and repeats
        # that call, which the server provably did not process.
        renewed_here = row.first_call and row.path != TOKEN
        return Outcome(0, 2 if renewed_here else 1)
    if fault.kind in ("gmail_401_once", "gmail_revoked"):
        if not row.gmail:
            return None
        # A Gmail 401 makes `gmail unread` read a fresh token and start again, once.
        if fault.kind == "gmail_401_once":
            return Outcome(0, 2 if row.path == GMAIL_LIST else 1)
        return Outcome(
            1,
            2 if row.path == GMAIL_LIST else 0,
            ("Gmail rejected the gmail token twice", "sk connect gmail"),
        )
    if fault.kind == "down":
        return Outcome(1, PERSISTENT_ATTEMPTS, ("connection refused", f"cannot reach {HOST}"))
    raise AssertionError(f"no rule for {fault}")


def cells() -> list[tuple[Row, Fault, Outcome]]:
    """Every applicable cell, row by row."""
    found = []
    for row in ROWS:
        for fault in FAULTS:
            outcome = expected(row, fault)
            if outcome is not None:
                found.append((row, fault, outcome))
    return found


# -- the document's generated section ------------------------------------------------------------

SECTION_START = "<!-- generated by `python -m tests.reliability.matrix`: do not edit -->"
SECTION_END = "<!-- end of the generated fault matrix -->"


def render_rows() -> str:
    lines = [
        "| row | command | faulted request | repeated after an ambiguous failure? | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in ROWS:
        repeat = "yes" if row.idempotent else "**no**"
        lines.append(f"| `{row.key}` | `{row.label}` | `{row.request}` | {repeat} | {row.note} |")
    return "\n".join(lines)


def render_faults() -> str:
    lines = ["| fault | what the sandbox does |", "| --- | --- |"]
    lines.extend(f"| `{fault.key}` | {fault.legend} |" for fault in FAULTS)
    return "\n".join(lines)


def render_matrix() -> str:
    header = "| row | " + " | ".join(f"`{fault.key}`" for fault in FAULTS) + " |"
    rule = "| --- |" + " --- |" * len(FAULTS)
    lines = [header, rule]
    for row in ROWS:
        cells_of_row = []
        for fault in FAULTS:
            outcome = expected(row, fault)
            cells_of_row.append("—" if outcome is None else outcome.cell())
        lines.append(f"| `{row.key}` | " + " | ".join(cells_of_row) + " |")
    return "\n".join(lines)


def line_templates(fault: Fault) -> list[str]:
    """What the error lines of a column hold, with the row's request and the host as
    placeholders: `<request>`, `<host>`."""
    templates: list[str] = []
    for row in ROWS:
        outcome = expected(row, fault)
        if outcome is None or outcome.exit_code == 0:
            continue
        parts = []
        for fragment in outcome.line:
            if fragment == _where(row) and fragment != HOST:
                fragment = "<request>"
            parts.append("`" + fragment.replace(HOST, "<host>") + "`")
        template = " … ".join(parts)
        if template not in templates:
            templates.append(template)
    return templates


def render_lines() -> str:
    lines = ["| fault | the one `sk:` line holds |", "| --- | --- |"]
    for fault in FAULTS:
        templates = line_templates(fault)
        lines.append(f"| `{fault.key}` | {' <br> '.join(templates) or '(every row recovers)'} |")
    return "\n".join(lines)


def render_not_in_matrix() -> str:
    lines = ["| command | why it has no row |", "| --- | --- |"]
    lines.extend(f"| `sk {command}` | {why} |" for command, why in NOT_IN_MATRIX.items())
    return "\n".join(lines)


def render_section() -> str:
    return "\n\n".join(
        [
            SECTION_START,
            "#### The rows: one request of one command each",
            render_rows(),
            "#### The columns: faults",
            render_faults(),
            "#### The matrix",
            "`✓ n`: exit 0 after n attempts of the row's request. `✗c · n`: failed cleanly with "
            "exit code c after n attempts, ending with one `sk: …` line on stderr and no "
            "traceback. `—`: the fault cannot reach that request. For `down`, n counts "
            "connection attempts (from the `-v` trace), since nothing reaches the server.",
            render_matrix(),
            "#### What the failure line says",
            render_lines(),
            "#### Commands without a row",
            render_not_in_matrix(),
            SECTION_END,
        ]
    )


if __name__ == "__main__":
    sys.stdout.write(render_section() + "\n")
