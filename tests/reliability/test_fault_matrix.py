"""Every cell of the fault matrix (`matrix.py`, tabled in docs/reliability.md), asserted: the
exit code, the attempts the sandbox saw, one clean `sk: …` line naming the cause and the host
or request, no traceback, and a bounded time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from scalekit_cli.scalekit.token_cache import TokenCache
from tests.cli.conftest import SkResult, assert_one_error_line
from tests.conftest import CANARY_CLIENT_ID, CANARY_CLIENT_SECRET, LiveSandbox
from tests.reliability.harness import Setup, SkRunner, closed_port, count_requests
from tests.reliability.matrix import (
    ACCOUNTS,
    CELL_TIME_BOUND_SECONDS,
    DETAILS,
    GMAIL_LIST,
    HANG_LATENCY_MS,
    HANG_TIMEOUT_SECONDS,
    RETRY_AFTER_SECONDS,
    Fault,
    Outcome,
    Row,
    cells,
)

SHARED_ACTIVE = "matrix-active@example.com"
SHARED_PENDING = "matrix-pending@example.com"
CELLS = cells()


@pytest.fixture(scope="module")
def shared_accounts(setup: Setup) -> None:
    setup.connect("gmail", SHARED_ACTIVE)
    setup.create("gmail", SHARED_PENDING)


def identifier_for(row: Row, fault: Fault, setup: Setup) -> str:
    """Cells that change an account get one of their own; the others share two accounts."""
    own = f"matrix-{row.key}-{fault.slug}"
    if row.account == "none":
        return own  # nothing exists under this name: `connect` creates it
    if row.key == "disconnect":
        setup.create("gmail", own)
        return own
    if fault.kind == "gmail_revoked":
        setup.connect("gmail", own)
        return own
    return SHARED_ACTIVE if row.account == "active" else SHARED_PENDING


def inject(
    sandbox: LiveSandbox, row: Row, fault: Fault, identifier: str, env: dict[str, str], cache: Path
) -> None:
    if fault.kind == "path":
        sandbox.fault(path=row.path, method=row.method, **fault.spec)
    elif fault.kind == "machine_token_revoked":
        # A token cached by an earlier run, which the server has since stopped accepting.
        TokenCache(
            sandbox.url, CANARY_CLIENT_ID, cache / "tokens", client_secret=CANARY_CLIENT_SECRET
        ).store(sandbox.machine_token(), 3600)
        sandbox.admin("POST", "/_sandbox/machine_tokens/revoke")
    elif fault.kind == "gmail_401_once":
        sandbox.fault(path=GMAIL_LIST, method="GET", kind="status", status=401, times=1)
    elif fault.kind == "gmail_revoked":
        sandbox.admin(
            "POST",
            "/_sandbox/accounts/revoke",
            json={"connector": "gmail", "identifier": identifier, "rotate": False},
        )
    elif fault.kind == "down":
        variable = "SK_GMAIL_API_URL" if row.gmail else "SCALEKIT_ENV_URL"
        env[variable] = f"http://127.0.0.1:{closed_port()}"
    else:
        raise AssertionError(f"cannot inject {fault}")


def fill(template: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template


def with_verbose(args: list[str]) -> list[str]:
    """`-v` among sk's own options, never after `--` (where it would reach `sk run`'s child)."""
    if "--" in args:
        split = args.index("--")
        return [*args[:split], "-v", *args[split:]]
    return [*args, "-v"]


def time_bound(fault: Fault, outcome: Outcome) -> float:
    bound = CELL_TIME_BOUND_SECONDS
    if fault.spec.get("kind") == "latency":
        bound += outcome.attempts * HANG_TIMEOUT_SECONDS
    if fault.spec.get("status") == 429:
        bound += RETRY_AFTER_SECONDS
    return bound


def describe(row: Row, fault: Fault, result: SkResult) -> str:
    return f"{row.key} × {fault.key}: exit {result.exit_code}\n{result.stderr[-1500:]}"


@pytest.mark.parametrize(
    ("row", "fault", "outcome"),
    CELLS,
    ids=[f"{row.key}-{fault.slug}" for row, fault, _ in CELLS],
)
def test_cell(
    row: Row,
    fault: Fault,
    outcome: Outcome,
    runner: SkRunner,
    setup: Setup,
    shared_sandbox: LiveSandbox,
    shared_accounts: None,
    tmp_path: Path,
) -> None:
    sandbox = shared_sandbox
    identifier = identifier_for(row, fault, setup)
    env = dict(fault.env)
    cache = runner.cache_dir
    if row.cold_cache:
        cache = tmp_path / "cold-cache"
        env["SK_CACHE_DIR"] = str(cache)
    if row.keyring:
        env["PYTHON_KEYRING_BACKEND"] = "keyrings.alt.file.PlaintextKeyring"
        env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    counted_in_trace = fault.kind == "down"  # nothing reaches the sandbox: count from -v
    try:
        inject(sandbox, row, fault, identifier, env, cache)
        values = {
            "{user}": identifier,
            "{env}": env.get("SCALEKIT_ENV_URL", sandbox.url),
            "{client_id}": CANARY_CLIENT_ID,
            "{client_secret}": CANARY_CLIENT_SECRET,
        }
        args = [fill(arg, values) for arg in row.args]
        if counted_in_trace:
            args = with_verbose(args)
        stdin = fill(row.stdin, values) if row.stdin is not None else None
        sandbox.clear_requests()
        started = time.monotonic()
        result = runner(*args, env=env, input=stdin)
        elapsed = time.monotonic() - started
    finally:
        sandbox.admin("DELETE", "/_sandbox/faults")

    assert "Traceback" not in result.streams, describe(row, fault, result)
    assert result.exit_code == outcome.exit_code, describe(row, fault, result)
    if counted_in_trace:
        attempts = sum(
            "→ failed: connection refused" in line for line in result.stderr.splitlines()
        )
    else:
        attempts = count_requests(sandbox.requests(), row.method, row.path)
    assert attempts == outcome.attempts, describe(row, fault, result)
    if outcome.exit_code == 0:
        assert "sk: " not in result.stderr, describe(row, fault, result)
    else:
        line = assert_one_error_line(result)
        for fragment in outcome.line:
            assert fragment in line, f"{fragment!r} not in {line!r}"
    assert elapsed < time_bound(fault, outcome), f"{row.key} × {fault.key} took {elapsed:.1f} s"
    if fault.spec.get("status") == 429 and fault.spec.get("times") == 1:
        # Recovered, and not before the server said it would take the request again.
        assert elapsed >= RETRY_AFTER_SECONDS, f"Retry-After ignored ({elapsed:.2f} s)"


def test_a_rerun_after_an_ambiguous_create_reads_the_account(
    runner: SkRunner, setup: Setup, shared_sandbox: LiveSandbox
) -> None:
    """The `hang` fault lets the server create the account after the client gave up; the
    rerun finds it and does not create it again."""
    identifier = "matrix-rerun-after-hang"
    shared_sandbox.fault(
        path=ACCOUNTS, method="POST", kind="latency", latency_ms=HANG_LATENCY_MS, times=1
    )
    try:
        first = runner(
            "connect",
            "gmail",
            "--user",
            identifier,
            "--no-wait",
            env={"SK_HTTP_TIMEOUT": f"{HANG_TIMEOUT_SECONDS:g}"},
        )
    finally:
        shared_sandbox.admin("DELETE", "/_sandbox/faults")
    assert first.exit_code == 1
    assert "no answer within" in assert_one_error_line(first)
    deadline = time.monotonic() + 10
    while (
        setup.api(
            "GET", DETAILS, params={"connector": "gmail", "identifier": identifier}
        ).status_code
        == 404
    ):
        assert time.monotonic() < deadline, "the delayed create never happened"
        time.sleep(0.05)

    shared_sandbox.clear_requests()
    second = runner("connect", "gmail", "--user", identifier, "--no-wait", "--json")
    assert second.exit_code == 0, second.stderr
    assert count_requests(shared_sandbox.requests(), "POST", ACCOUNTS) == 0
    listed = setup.api("GET", ACCOUNTS, params={"identifier": identifier}).json()
    assert [a["identifier"] for a in listed["connected_accounts"]] == [identifier]


def test_a_409_on_create_means_the_account_exists(
    runner: SkRunner, setup: Setup, shared_sandbox: LiveSandbox
) -> None:
    """A read that missed an account another client just created: the create answers 409,
    and `sk connect` reads the account instead of failing."""
    identifier = "matrix-created-meanwhile"
    setup.create("gmail", identifier)
    shared_sandbox.fault(path=DETAILS, method="GET", kind="status", status=404, times=1)
    try:
        shared_sandbox.clear_requests()
        result = runner("connect", "gmail", "--user", identifier, "--no-wait", "--json")
    finally:
        shared_sandbox.admin("DELETE", "/_sandbox/faults")
    assert result.exit_code == 0, result.stderr
    log = shared_sandbox.requests()
    assert count_requests(log, "POST", ACCOUNTS) == 1
    assert count_requests(log, "GET", DETAILS) == 2  # the miss, then the read after the 409
