"""The benchmark harness runs end to end (`make bench-smoke`): CI proves it works, not that
the timings meet their targets — one or two samples on a shared runner prove nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_smoke_run_measures_every_row(tmp_path: Path):
    report = tmp_path / "benchmarks.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--output", str(report)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = report.read_text(encoding="utf-8")
    for measure in (
        "requests per warm `sk token`",
        "`sk token`, warm cache ÷ quickstart httpx script",
        "`sk token`, warm cache ÷ SDK import",
        "`sk --help` − `python -c pass`",
        "`sk status --help` − `python -c pass`",
        "every command's `--help` − `python -c pass`",
        "`sk gmail unread --limit 20`",
        "`sk connect --interval 1` approval → success line",
        "`sk connect --interval 1` approval → exit",
        "`sk status` peak RSS",
        "`sk status` time",
    ):
        assert measure in text, measure
    # Not a timing: a warm `sk token` is exactly one request, on any machine.
    assert "| requests per warm `sk token` |  |  |  | 1 | exactly 1 | yes |" in text
    assert "skipped: run make bench-sdk" in text  # the SDK is installed only when asked
    assert "## Import time" in text
