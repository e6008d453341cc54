"""The results as a console table and as docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .importtime import WATCHED, Breakdown
from .measures import (
    GMAIL_LATENCY_MS,
    GMAIL_LIMIT,
    GMAIL_QUERY,
    STATUS_PAGE_LATENCY_MS,
    ConnectResult,
    Row,
    StatusPoint,
)
from .sandbox import REPO_ROOT


def _first_line_with(path: str, prefix: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _git_state() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" with local changes" if git("status", "--porcelain") else "")


@dataclass
class Machine:
    date: str
    cpu: str
    cores: int
    memory: str
    system: str
    python: str
    commit: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @classmethod
    def describe(cls) -> Machine:
        kib = _first_line_with("/proc/meminfo", "MemTotal").split()
        return cls(
            date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            cpu=_first_line_with("/proc/cpuinfo", "model name") or platform.processor() or "?",
            cores=os.cpu_count() or 0,
            memory=f"{int(kib[0]) / 1024 / 1024:.1f} GiB" if kib else "?",
            system=platform.platform(),
            python=f"{platform.python_implementation()} {platform.python_version()}",
            commit=_git_state(),
            load_before=os.getloadavg(),
        )


@dataclass
class Report:
    machine: Machine
    smoke: bool
    rows: list[Row] = field(default_factory=list)
    connect: ConnectResult | None = None
    status: list[StatusPoint] = field(default_factory=list)
    imports: list[Breakdown] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[Row]:
        return [row for row in self.rows if row.met is False]


def _verdict(row: Row) -> str:
    return {True: "yes", False: "NO", None: "skipped"}[row.met]


def console(report: Report) -> str:
    lines = [
        f"{'measure':<74} {'A min/med/max ms':>17} {'B min/med/max ms':>17}  result",
    ]
    for row in report.rows:
        lines.append(
            f"{row.measure[:74]:<74} {row.a.ms() if row.a else '':>17} "
            f"{row.b.ms() if row.b else '':>17}  {row.result}  (target {row.target}: "
            f"{_verdict(row)})"
        )
        if row.note:
            lines.append(f"    {row.note}")
    return "\n".join(lines)


def _loads(load: Sequence[float]) -> str:
    return " / ".join(f"{value:.2f}" for value in load)


def _import_table(imports: list[Breakdown]) -> list[str]:
    packages: list[str] = []
    for breakdown in imports:
        for name, ms in breakdown.top(12):
            if name not in packages and ms >= 0.5:
                packages.append(name)
    header = "| package | " + " | ".join(f"`{b.label}`" for b in imports) + " |"
    lines = [header, "| --- |" + " ---: |" * len(imports)]
    for name in packages:
        cells = [f"{b.by_package_ms.get(name, 0.0):.1f}" for b in imports]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| **total** | " + " | ".join(f"**{b.total_ms:.1f}**" for b in imports) + " |")
    present = [", ".join(b.watched_present()) or "none" for b in imports]
    lines.append(f"| of {', '.join(WATCHED)} | " + " | ".join(present) + " |")
    return lines


def markdown(report: Report) -> str:
    machine = report.machine
    out = [
        "# Benchmarks",
        "",
        "`sk` side by side with what a user would run instead, against the local sandbox "
        "(served in its own process on loopback). Written by `make bench` "
        "(`python -m bench.run`); `make bench-sdk` adds the official SDK. These are the "
        "figures of a real run:",
        "",
        f"- **date**: {machine.date}"
        + (" (smoke run: one or two samples only)" if report.smoke else ""),
        f"- **machine**: {machine.cpu}, {machine.cores} cores, {machine.memory} RAM; "
        f"{machine.system}",
        f"- **interpreter**: {machine.python} (`{Path(sys.executable).name}` of the project "
        "venv, for sk and the baselines alike)",
        f"- **load average** (1/5/15 min) before: {_loads(machine.load_before)}; after: "
        f"{_loads(machine.load_after)}",
        f"- **code**: commit {machine.commit}",
        "- **method**: the two sides of a pair run alternately (A B A B …) after one "
        "unrecorded round; a sample is the wall time from fork to reaping the process, taken "
        "by the benchmark process; ratios are of medians. Every side runs with the same "
        "environment, a private bytecode cache (`PYTHONPYCACHEPREFIX`, warmed by that first "
        "round, as an installed package's `.pyc` files are) and private sk cache/config "
        f"directories. The whole run took {report.seconds:.0f} s.",
        "",
        "## Results",
        "",
        "| measure | A: min / median / max (ms) | B: min / median / max (ms) | samples "
        "| result | target | met |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for row in report.rows:
        samples = len(row.a.samples) if row.a else ""
        out.append(
            f"| {row.measure} | {row.a.ms() if row.a else ''} | {row.b.ms() if row.b else ''} "
            f"| {samples} | {row.result} | {row.target} | {_verdict(row)} |"
        )
    out += ["", "Notes on the rows:", ""]
    out += [f"- {row.measure}: {row.note}" for row in report.rows if row.note]
    out += ["", "### The commands", ""]
    for row in report.rows:
        if row.a_command:
            out.append(f"- {row.measure}: A `{row.a_command}`; B `{row.b_command}`")
    out += [
        "",
        "The baselines are what a competent user writes from the AgentKit quickstart, "
        "run by the same interpreter:",
        "",
        "- [`bench/baselines/quickstart_token.py`](../bench/baselines/quickstart_token.py): "
        "plain `import httpx`, one `httpx.Client`, `POST /oauth/token`, "
        "`GET /api/v1/connected_accounts/auth`, print the access token. In this environment "
        "(rich, pygments and click are installed, as they are next to any Typer app) "
        "`import httpx` also imports its optional command-line module `httpx._main`, and so "
        "rich and pygments: that cost is real for such users and is part of the baseline.",
        "- [`bench/baselines/quickstart_gmail.py`](../bench/baselines/quickstart_gmail.py): "
        "the same, then Gmail `messages.list` and one `messages.get?format=metadata` per "
        "message, one after the other, on the same client.",
        "- the SDK: `python -c` importing `scalekit` from scalekit-sdk-python and "
        "constructing `ScalekitClient(env_url, client_id, client_secret)` — nothing else.",
        "",
        f"The Gmail pair reads {GMAIL_LIMIT} messages (`--query {GMAIL_QUERY}`: the sandbox "
        f"mailbox has fewer than {GMAIL_LIMIT} unread ones) with {GMAIL_LATENCY_MS} ms added "
        "by the sandbox to every Gmail answer (a `latency` fault on `/gmail/*`). `sk token` "
        "runs with a warm machine-token cache: its one request is the `/auth` read.",
        "",
        "The sandbox speaks plain http on loopback. sk makes a TLS context only for an https "
        "request (OpenSSL 3 takes 50-100 ms to load a CA bundle), so against the sandbox it "
        "never pays for one, while `httpx.Client()` in the scripts builds one up front; "
        "against a real (https) environment both sides pay that cost once per run.",
    ]
    if report.connect is not None:
        result = report.connect
        out += [
            "",
            "## `sk connect` noticing an approval",
            "",
            f"`sk connect gmail --user U --interval {result.interval:g}` runs; the user presses "
            "Allow on the hosted page (over HTTP, as a browser would) at a different moment of "
            "the polling cycle each time. The approval's moment is the sandbox's own "
            f"timestamp of it. One round trip (a status read, kept-alive, median of 20) took "
            f"{result.round_trip * 1000:.1f} ms.",
            "",
            "sk polls on a fixed schedule (every interval from the start of the previous "
            "read), so it sees an approval at most one interval plus one round trip after it "
            "happens, and prints its success line at once. Its exit comes a few milliseconds "
            "later (the row's note has this run's figure): Python tearing the interpreter down "
            "(with Typer and pydantic loaded, the collector's share already cut by "
            "`gc.freeze()`) and the kernel freeing the process's memory. An approval just "
            "after a read is the worst case: interval + half a round trip to the success line, "
            "plus that teardown to the exit, which can then exceed interval + one round trip "
            "by those milliseconds.",
            "",
            "| run | Allow pressed after link (s) | approval → success line (ms) "
            "| approval → exit (ms) |",
            "| ---: | ---: | ---: | ---: |",
        ]
        for index, run in enumerate(result.runs, 1):
            out.append(
                f"| {index} | {run.delay:.2f} | {run.noticed * 1000:.0f} | "
                f"{run.exited * 1000:.0f} |"
            )
    if report.status:
        out += [
            "",
            "## `sk status` for a user with many accounts",
            "",
            "A sandbox with 1 000 extra connections (a user has one account per connection), "
            "users with each number of ACTIVE accounts; `sk status --user U` writes its table "
            f"to a pipe; the sandbox answers each page of the list {STATUS_PAGE_LATENCY_MS} ms "
            "late, as over a network. Peak RSS and CPU time are the sk process's own "
            "(`wait4`).",
            "",
            "| accounts | pages | wall min / median / max (ms) | CPU min / median (ms) "
            "| peak RSS (MiB) |",
            "| ---: | ---: | ---: | ---: | ---: |",
        ]
        for point in report.status:
            out.append(
                f"| {point.accounts} | {-(-point.accounts // 100)} | {point.time.ms()} | "
                f"{point.cpu.min * 1000:.0f} / {point.cpu.median * 1000:.0f} | "
                f"{point.max_rss_kib / 1024:.1f} |"
            )
    if report.imports:
        out += [
            "",
            "## Import time",
            "",
            "`python -X importtime`, each module's fastest self time over several runs, "
            "summed per top-level package (ms; `-X importtime` itself slows imports a "
            "little). The last line says which of the heavy optional packages were imported.",
            "",
            *_import_table(report.imports),
        ]
    out += [
        "",
        "## Reproducing",
        "",
        "```sh",
        "make bench        # every row but the SDK one (a few minutes)",
        "make bench-sdk    # the same, plus scalekit-sdk-python in a throwaway venv",
        "make bench-smoke  # each pair once or twice: proves the harness runs (CI)",
        "```",
        "",
    ]
    return "\n".join(out)
