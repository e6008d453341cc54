"""The LICENSE file is the full Apache-2.0 text that pyproject.toml declares."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_license_file_is_the_apache_2_text_pyproject_names() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    words = " ".join(text.split())
    assert words.startswith("Apache License Version 2.0, January 2004")
    # The whole text, not a pointer to it: all nine sections and the appendix.
    for section in range(1, 10):
        assert f" {section}. " in words
    assert "END OF TERMS AND CONDITIONS" in words
    assert "APPENDIX: How to apply the Apache License to your work." in words
