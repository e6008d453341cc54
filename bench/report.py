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
from .measures import GMAIL_LIMIT, GMAIL_QUERY, Conditions, Row
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
    # The report itself, rewritten by every run, is no change to the code measured.
    changed = git("status", "--porcelain", "--", ".", ":!docs/benchmarks.md")
    return commit + (" with local changes" if changed else "")


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
    conditions: Conditions | None = None
    rows: list[Row] = field(default_factory=list)
    imports: list[Breakdown] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[Row]:
        return [row for row in self.rows if row.met is False]


def _verdict(row: Row) -> str:
    if row.met is None:
        return "not judged" if row.a is not None else "skipped"
    return "yes" if row.met else "NO"


def console(report: Report) -> str:
    lines = []
    if report.conditions is not None:
        c = report.conditions
        lines.append(
            f"conditions: TLS, {c.round_trip_ms:g} ms round trip through the relay; one request "
            f"on a fresh connection {c.fresh_ms:.0f} ms, on an open one {c.kept_alive_ms:.0f} ms"
        )
    lines.append(f"{'measure':<74} {'A min/med/max ms':>17} {'B min/med/max ms':>17}  result")
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
    conditions = report.conditions
    out = [
        "# Benchmarks",
        "",
        "`sk` side by side with what a user would run instead, under a user's conditions: "
        "HTTPS to a Scalekit environment some way off. Written by `make bench` "
        "(`python -m bench.run`); `make bench-sdk` adds the official SDK. These are the "
        "figures of a real run:",
        "",
        f"- **date**: {machine.date}"
        + (" (smoke run: one or two samples only, timings not judged)" if report.smoke else ""),
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
        "## Conditions",
        "",
        "- **TLS**: the sandbox runs as `sk sandbox serve --tls --memory` (its local CA in a "
        "private `SK_DATA_DIR`), and every side trusts it through the variables it prints "
        "(`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`, …: its CA plus the public roots, so each "
        "side loads the same bundle). Every command connects to `https://localhost:<relay "
        "port>`, the name the certificate is for, both for AgentKit (`SCALEKIT_ENV_URL`) and "
        "for Gmail (`SK_GMAIL_API_URL`).",
        "- **round trip**: "
        + (f"{conditions.round_trip_ms:g} ms" if conditions else "?")
        + ". A relay on loopback ([`bench/latency.py`](../bench/latency.py), its own "
        "process) holds every chunk half a round trip in each direction, and holds a new "
        "connection's first bytes one round trip more: the TCP handshake, which loopback "
        "completes before the relay sees the connection. So a fresh connection pays its TCP "
        "and TLS handshakes, and a request on an open one a single round trip.",
    ]
    if conditions is not None:
        out.append(
            f"- **measured** by the harness's own httpx client through the relay (medians): a "
            f"request on a fresh connection {conditions.fresh_ms:.0f} ms, the same request "
            f"on the open connection {conditions.kept_alive_ms:.0f} ms."
        )
    out += [
        "- The sandbox and the relay run in processes of their own; the harness sets the "
        "sandbox up through its public surface only (the AgentKit API and `/_sandbox/…`), "
        "talking to it directly rather than through the relay.",
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
        "The baselines, run by the same interpreter:",
        "",
        "- the floor, [`bench/baselines/floor_typer_httpx.py`]"
        "(../bench/baselines/floor_typer_httpx.py): what sk's own stack costs used as "
        "documented — a Typer app (the version sk installs, default settings) with one "
        "command that makes one request with `httpx.get` on a fresh TLS connection: the "
        "`GET /api/v1/connected_accounts/auth` a warm `sk token` makes, with the machine "
        "token from the environment (where sk has it from its cache), printing the access "
        "token.",
        "- [`bench/baselines/quickstart_token.py`](../bench/baselines/quickstart_token.py): "
        "what a competent user writes from the AgentKit quickstart — plain `import httpx`, one "
        "`httpx.Client`, `POST /oauth/token`, `GET /api/v1/connected_accounts/auth`, print "
        "the access token (two requests, no cache between runs).",
        "- [`bench/baselines/quickstart_gmail.py`](../bench/baselines/quickstart_gmail.py): "
        "the same, then Gmail `messages.list` and one `messages.get?format=metadata` per "
        "message, one after the other, on the same client (one connection, kept alive).",
        "- the SDK (`make bench-sdk`): `python -c` importing `scalekit` from "
        "scalekit-sdk-python and constructing `ScalekitClient(env_url, client_id, "
        "client_secret)` — nothing else — in a throwaway venv.",
        "",
        f"The Gmail pair reads {GMAIL_LIMIT} messages (`--query {GMAIL_QUERY}`: the sandbox "
        f"mailbox has fewer than {GMAIL_LIMIT} unread ones); both sides go through the relay, "
        "whose round trip is the latency. `sk token` runs with a warm machine-token cache: "
        "its one request is the `/auth` read.",
        "",
        "Retired: the start-up targets measured against a plain-http loopback sandbox (where "
        "start-up was the whole cost): `sk --help` and every command's `--help` against "
        "`python -c pass`, `sk connect`'s approval-to-exit budget, and `sk status`'s memory "
        "and linearity rows for users with many accounts (they needed a sandbox with "
        "connections that `sk sandbox serve` cannot configure).",
    ]
    if report.imports:
        out += [
            "",
            "## Import time",
            "",
            "Informative, no target. `python -X importtime`, each module's fastest self time "
            "over several runs, summed per top-level package (ms; `-X importtime` itself slows "
            "imports a little). The last line says which of the heavy optional packages were "
            "imported.",
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
        "make bench-smoke  # each pair once or twice, same conditions, nothing judged (tests)",
        "```",
        "",
    ]
    return "\n".join(out)
