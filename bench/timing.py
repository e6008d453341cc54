"""Running commands as a user's shell would, and timing them.

A sample is the wall time from just before the fork to the reaping of the child, taken by the
benchmark process (which runs nothing else meanwhile). Pairs run alternately, A B A B …, so
that drift in the machine's load (other jobs on a shared 2-core box) hits both sides alike;
only ratios of medians are compared.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Command:
    label: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    expect_exit: int = 0

    def shell(self) -> str:
        """The command as a person would type it (interpreter paths shortened)."""
        words = [Path(word).name if os.path.isabs(word) else word for word in self.argv]
        return " ".join(words)


@dataclass
class Sample:
    seconds: float  # wall time
    cpu_seconds: float  # user + system time of the process itself
    max_rss_kib: int
    exit_code: int


@dataclass
class Stats:
    samples: list[float] = field(default_factory=list)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def ms(self) -> str:
        """min / median / max in milliseconds."""
        return f"{self.min * 1000:.0f} / {self.median * 1000:.0f} / {self.max * 1000:.0f}"


class CommandFailed(RuntimeError):
    pass


def run_once(command: Command, *, capture: bool = False) -> tuple[Sample, str, str]:
    """Run the command once; its own peak RSS comes from wait4, not from any sibling's."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            command.argv,
            env=command.env,
            cwd=command.cwd,
            stdin=subprocess.DEVNULL,
            # Files rather than pipes: nothing has to be read while the child runs.
            stdout=out if capture else subprocess.DEVNULL,
            stderr=err if capture else subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    cpu = usage.ru_utime + usage.ru_stime
    sample = Sample(elapsed, cpu, int(usage.ru_maxrss), process.returncode)
    if process.returncode != command.expect_exit:
        raise CommandFailed(
            f"`{command.shell()}` exited {process.returncode}, expected {command.expect_exit}"
            + (f"\nstdout: {stdout[-2000:]}\nstderr: {stderr[-2000:]}" if capture else "")
        )
    return sample, stdout, stderr


def check(command: Command) -> tuple[str, str]:
    """One run whose output is kept, to prove the command does what it should."""
    _, stdout, stderr = run_once(command, capture=True)
    return stdout, stderr


def alternate(commands: Sequence[Command], runs: int, warmup: int = 1) -> list[list[Sample]]:
    """Each command `runs` times, interleaved A B A B …, after `warmup` unrecorded rounds
    (page cache, .pyc files, the sandbox's own first-request costs)."""
    for _ in range(warmup):
        for command in commands:
            run_once(command)
    samples: list[list[Sample]] = [[] for _ in commands]
    for _ in range(runs):
        for index, command in enumerate(commands):
            samples[index].append(run_once(command)[0])
    return samples


def stats(samples: Sequence[Sample]) -> Stats:
    return Stats([sample.seconds for sample in samples])
