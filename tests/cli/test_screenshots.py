"""`make screenshots`: the script runs the real commands on a sandbox and writes one SVG per
command, showing what they printed, tokens redacted."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "screenshots.py"
SVG = "{http://www.w3.org/2000/svg}"

EXPECTED = {
    "connect": ["$ sk connect gmail --user", "/magic/", "Waiting for", "(ACTIVE)"],
    "status": ["Connector", "gmail", "github", "exa", "API_KEY", "ACTIVE"],
    "token": ["$ sk token gmail --user", "ya29…[redacted]"],
    "gmail-unread": ["From", "Subject", "Date", "Snippet", "<"],
    "exec-tool": ['"messages"', '"resultSizeEstimate"', '"from"'],
}


def svg_text(path: Path) -> str:
    """The visible text of a rich SVG, line by line: rich writes one <text> element per run
    of a style, and the runs of one terminal line share their `y`."""
    root = ET.parse(path).getroot()  # also proves the file is well-formed XML
    assert root.tag == f"{SVG}svg"
    lines: dict[str, str] = {}
    for element in root.iter(f"{SVG}text"):
        y = element.get("y", "")
        lines[y] = lines.get(y, "") + "".join(element.itertext())
    return "\n".join(lines.values()).replace("\xa0", " ")


def test_the_script_writes_every_picture_from_real_runs(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # no .env of the checkout
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.stem for p in tmp_path.glob("*.svg")) == sorted(EXPECTED)
    for name, wanted in EXPECTED.items():
        text = svg_text(tmp_path / f"{name}.svg")
        for piece in wanted:
            assert piece in text, f"{name}.svg lacks {piece!r}"
        assert "Traceback" not in text and "sk: " not in text
        # No whole token: Google-style access and refresh tokens only ever appear masked.
        assert not re.search(r"ya29\.[\w-]{8}", text) and not re.search(r"1//[\w-]{8}", text)


def test_the_committed_pictures_are_the_scripts():
    pictures = ROOT / "docs" / "screenshots"
    assert sorted(p.stem for p in pictures.glob("*.svg")) == sorted(EXPECTED)
    reference = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    for name in EXPECTED:
        assert f"](screenshots/{name}.svg)" in reference, f"docs/commands.md lacks {name}.svg"
