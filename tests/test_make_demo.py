"""`make demo` on a checkout prints sk's own steps and nothing of make's or pip's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_demo_prints_only_sks_own_steps(tmp_path: Path) -> None:
    # A checkout whose venv is this one, already installed (its stamps newer than
    # pyproject.toml): what a second `make demo` sees. The install step's own quietness is the
    # Makefile's PYTHONWARNINGS filter and `@` recipes, checked below as text.
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, checkout / name)
    venv = Path(sys.executable).parent.parent
    (checkout / ".venv").symlink_to(venv)
    stamps = [checkout / ".venv" / ".installed", checkout / ".venv" / ".installed-sandbox"]
    made = [stamp for stamp in stamps if not stamp.exists()]
    for stamp in stamps:
        stamp.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCALEKIT_", "SK_", "MAKE"))}
    env.update(
        SK_DATA_DIR=str(tmp_path / "data"),
        SK_CACHE_DIR=str(tmp_path / "cache"),
        SK_CONFIG_DIR=str(tmp_path / "config"),
        NO_COLOR="1",
    )
    try:
        done = subprocess.run(
            ["make", "--no-print-directory", "demo"], cwd=checkout, env=env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        for stamp in made:
            stamp.unlink()
    assert done.returncode == 0, done.stderr
    # Progress goes to stderr and starts with sk's own title; make echoes no recipe anywhere.
    assert done.stderr.splitlines()[0].startswith("sk demo — the whole flow"), done.stderr
    assert "bin/sk demo" not in done.stdout + done.stderr
    assert "make" not in done.stdout.split("\n", 1)[0]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert 'PYTHONWARNINGS="ignore:Editable installation"' in makefile
