"""`python -X importtime`, repeated and summarised: where a command's start-up goes.

Each module's self time is the minimum over several runs (the least disturbed by other load),
and self times are summed per top-level package (`httpx`, `typer`, …, with the standard
library as one group), so the groups add up to the whole import time of the run.
"""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

STDLIB = "(standard library)"
# `pip install -e` adds a finder that site imports at every start, sk or not.
EDITABLE = "(editable-install finder)"
# Packages whose presence on a command's import path is worth calling out.
WATCHED = ("rich", "pygments", "click", "pydantic", "starlette", "uvicorn", "keyring", "dotenv")


@dataclass
class Breakdown:
    label: str
    total_ms: float  # sum of every module's (minimum) self time
    by_package_ms: dict[str, float]
    modules: set[str]

    def top(self, count: int = 8) -> list[tuple[str, float]]:
        ranked = sorted(self.by_package_ms.items(), key=lambda item: -item[1])
        return ranked[:count]

    def watched_present(self) -> list[str]:
        roots = {name.split(".")[0] for name in self.modules}
        return [name for name in WATCHED if name in roots]


def parse(stderr: str) -> dict[str, int]:
    """Module → self time (µs) from one run's `-X importtime` lines."""
    self_us: dict[str, int] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_part, _, name = line[len("import time:") :].split("|", 2)
        self_us[name.strip()] = int(self_part)
    return self_us


def package_of(module: str) -> str:
    root = module.split(".")[0]
    if root.startswith("__editable__"):
        return EDITABLE
    if root in sys.stdlib_module_names or root.startswith("_") or root == "encodings":
        return STDLIB
    return root


def measure(
    label: str, argv: Sequence[str], env: dict[str, str], cwd: Path, runs: int
) -> Breakdown:
    """Run `python -X importtime ARGV…` `runs` times and keep each module's fastest self time."""
    best: dict[str, int] = {}
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", *argv],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        for module, micros in parse(done.stderr).items():
            best[module] = min(micros, best.get(module, micros))
    groups: dict[str, float] = defaultdict(float)
    for module, micros in best.items():
        groups[package_of(module)] += micros / 1000
    return Breakdown(label, sum(groups.values()), dict(groups), set(best))
