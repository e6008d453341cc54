"""The official scalekit-sdk-python, in a throwaway venv of the benchmark's own interpreter.

It is installed only when asked (`make bench-sdk`): pip needs the network and takes a minute.
Any failure becomes a reason to print, never an error of the benchmark.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "scalekit-sdk-python"
INSTALL_TIMEOUT = 600
# What the issue compares with: importing the SDK and constructing its client, nothing more.
CONSTRUCT_CLIENT = (
    "import os, scalekit; "
    "scalekit.ScalekitClient(os.environ['SCALEKIT_ENV_URL'], "
    "os.environ['SCALEKIT_CLIENT_ID'], os.environ['SCALEKIT_CLIENT_SECRET'])"
)


@dataclass
class SdkVenv:
    root: Path
    python: Path
    version: str

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def install() -> SdkVenv | str:
    """A venv holding the SDK, or the reason there is none."""
    root = Path(tempfile.mkdtemp(prefix="sk-bench-sdk-"))
    # venv from a venv's interpreter makes a venv of the same base interpreter.
    made = subprocess.run(
        [sys.executable, "-m", "venv", str(root)], capture_output=True, text=True, check=False
    )
    python = root / "bin" / "python"
    if made.returncode != 0 or not python.exists():
        shutil.rmtree(root, ignore_errors=True)
        return f"cannot create a venv: {_last_line(made.stderr)}"
    try:
        installed = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--no-input", PACKAGE],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        shutil.rmtree(root, ignore_errors=True)
        return f"pip install {PACKAGE} took over {INSTALL_TIMEOUT} s"
    if installed.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        return f"pip install {PACKAGE} failed: {_last_line(installed.stderr)}"
    shown = subprocess.run(
        [str(python), "-m", "pip", "show", PACKAGE], capture_output=True, text=True, check=False
    )
    version = next(
        (
            line.split(":", 1)[1].strip()
            for line in shown.stdout.splitlines()
            if line.startswith("Version:")
        ),
        "unknown",
    )
    return SdkVenv(root, python, version)
