"""`python -m bench.run [--with-sdk] [--smoke] [--output PATH]` — see bench/__init__.py.

Exit status: 0 when every target is met (in a smoke run, which judges no timing: when a warm
`sk token` makes one request), 1 when a target is missed, 2 when the harness itself failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from . import importtime, mcp_serve, measures
from .measures import BASELINES, USER, Context
from .report import Machine, Report, console, markdown
from .sandbox import REPO_ROOT, SK, Sandbox
from .sdk import SdkVenv, install

ROUND_TRIP_MS = 40.0  # a user's round trip to their Scalekit environment and to Gmail


@dataclass(frozen=True)
class Plan:
    runs: int  # samples per side of the `sk token` and `--help` pairs
    gmail_runs: int
    mcp_runs: int  # rounds of the MCP rows: one call, the raw request, 20 calls at once
    conditions_samples: int  # requests timed to state the conditions
    importtime_runs: int
    warmup: int


FULL = Plan(runs=21, gmail_runs=11, mcp_runs=11, conditions_samples=11, importtime_runs=5, warmup=1)
# Everything once or twice, still through TLS and the relay: proves the harness, judges nothing.
SMOKE = Plan(runs=2, gmail_runs=1, mcp_runs=1, conditions_samples=2, importtime_runs=1, warmup=0)
NOT_INHERITED = frozenset(
    {
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
        "NODE_EXTRA_CA_CERTS",
    }
)
DOC = REPO_ROOT / "docs" / "benchmarks.md"
RESULTS = REPO_ROOT / "bench" / "results"


def user_environment(home: Path) -> dict[str, str]:
    """The caller's environment without sk settings, with private sk directories.

    Bytecode is cached (in a private directory), as it is for any installed package: a
    PYTHONDONTWRITEBYTECODE of the caller would make every run of every side recompile.
    The caller's proxy and CA settings go too: the conditions are the relay's and the
    sandbox's CA, which every side is given.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SCALEKIT_", "SK_"))
        and name not in ("GITHUB_ACTIONS", "PYTHONDONTWRITEBYTECODE")
        and name.upper() not in NOT_INHERITED
    }
    env["PYTHONPYCACHEPREFIX"] = str(home / "pycache")
    for name, sub in (
        ("SK_CACHE_DIR", "cache"),
        ("SK_DATA_DIR", "data"),
        ("SK_CONFIG_DIR", "config"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / sub)
    return env


def progress(message: str) -> None:
    sys.stderr.write(f"bench: {message}\n")
    sys.stderr.flush()


def measure_everything(plan: Plan, with_sdk: bool, report: Report, work: Path) -> None:
    env = user_environment(work / "home")
    cwd = work / "cwd"  # no .env here
    cwd.mkdir()

    sdk: SdkVenv | str | None = None
    if with_sdk:
        progress("installing scalekit-sdk-python into a throwaway venv …")
        sdk = install()
        if isinstance(sdk, str):
            progress(f"SDK skipped: {sdk}")
    try:
        with Sandbox.serve(work / "sandbox-data", ROUND_TRIP_MS, env) as sandbox:
            ctx = Context(sandbox, {**env, **sandbox.env}, cwd, smoke=report.smoke)
            progress(f"sandbox behind a {ROUND_TRIP_MS:g} ms relay at {sandbox.url}")
            sandbox.connect("gmail", USER)
            # The floor's machine token, as sk's is in its cache: in the environment.
            ctx.env["SK_BENCH_MACHINE_TOKEN"] = sandbox.machine_token()
            report.conditions = measures.measure_conditions(ctx, plan.conditions_samples)
            measures.prove_token(ctx)  # also warms sk's machine-token cache

            report.rows.append(measures.requests_per_token(ctx))
            progress("sk token vs the floor …")
            report.rows.append(measures.token_vs_floor(ctx, plan.runs, plan.warmup))
            progress("sk token vs the quickstart script …")
            report.rows.append(measures.token_vs_quickstart(ctx, plan.runs, plan.warmup))
            if isinstance(sdk, SdkVenv):
                progress("sk token vs the SDK …")
            report.rows.append(measures.token_vs_sdk(ctx, plan.runs, plan.warmup, sdk))
            progress("sk --help vs python -c 'import typer' …")
            report.rows.append(measures.help_vs_typer(ctx, plan.runs, plan.warmup))
            progress("sk gmail unread vs the one-by-one loop …")
            report.rows.append(measures.gmail_vs_loop(ctx, plan.gmail_runs, plan.warmup))
            progress("sk mcp serve: parallel calls, and one call vs execute_tool …")
            report.rows += mcp_serve.measure(
                ctx, plan.mcp_runs, plan.warmup, work / "mcp-serve.log"
            )
            progress("import time …")
            report.imports = import_breakdowns(ctx, plan.importtime_runs)
    finally:
        if isinstance(sdk, SdkVenv):
            sdk.remove()


def import_breakdowns(ctx: Context, runs: int) -> list[importtime.Breakdown]:
    # The console script is a Python file: run it under -X importtime as the shell would.
    cases = [
        ("sk token", [str(SK), "token", "gmail", "--user", USER, "--debug"]),
        (
            "floor_typer_httpx.py",
            [str(BASELINES / "floor_typer_httpx.py"), "gmail", "--user", USER],
        ),
        ("sk --help", [str(SK), "--help"]),
        ("sk gmail unread", [str(SK), "gmail", "unread", "--user", USER]),
        ("quickstart_token.py", [str(BASELINES / "quickstart_token.py"), "gmail", USER]),
        ("import typer", ["-c", "import typer"]),
    ]
    return [importtime.measure(label, argv, ctx.env, ctx.cwd, runs) for label, argv in cases]


def save_raw(report: Report) -> None:
    """Every sample, for whoever wants more than the table (bench/results/ is not in git)."""
    RESULTS.mkdir(exist_ok=True)
    document = {
        "machine": asdict(report.machine),
        "conditions": asdict(report.conditions) if report.conditions else None,
        "rows": [asdict(row) for row in report.rows],
        "imports": [
            {"label": b.label, "total_ms": b.total_ms, "by_package_ms": b.by_package_ms}
            for b in report.imports
        ],
    }
    (RESULTS / "latest.json").write_text(json.dumps(document, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--with-sdk", action="store_true", help="install and compare the SDK")
    parser.add_argument(
        "--smoke", action="store_true", help="one or two samples per pair; judges no timing"
    )
    parser.add_argument("--runs", type=int, help="samples per side of the sk token / --help pairs")
    parser.add_argument(
        "--output",
        type=Path,
        help=f"where to write the report (default: {DOC.relative_to(REPO_ROOT)}, not for --smoke)",
    )
    args = parser.parse_args(argv)
    plan = SMOKE if args.smoke else FULL
    if args.runs:
        plan = Plan(**{**asdict(plan), "runs": args.runs})
    output: Path | None = args.output or (None if args.smoke else DOC)

    started = time.monotonic()
    report = Report(Machine.describe(), smoke=args.smoke)
    try:
        with tempfile.TemporaryDirectory(prefix="sk-bench-") as work:
            measure_everything(plan, args.with_sdk, report, Path(work))
    except Exception:
        traceback.print_exc()
        progress("the harness failed; no report written")
        return 2
    report.machine.load_after = os.getloadavg()
    report.seconds = time.monotonic() - started

    print(console(report))
    if output is not None:
        output.write_text(markdown(report), encoding="utf-8")
        progress(f"wrote {output}")
    if not args.smoke:
        save_raw(report)
    # A smoke run judges no timing (its rows' verdicts are None), only the request count.
    if report.failed:
        progress("missed: " + "; ".join(row.measure for row in report.failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
