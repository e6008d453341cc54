"""What the installed package may import: the dev extras (the official SDK, the test tools) are
not in a user's install, so no module of `scalekit_cli` may need them. The sandbox reads the
service's messages from the descriptor set it ships, never from the official SDK."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "scalekit_cli"
DEV_ONLY = {"scalekit", "pytest", "hypothesis", "schemathesis", "playwright", "keyrings"}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_module_of_the_package_imports_a_dev_only_dependency():
    found = {
        str(path.relative_to(PACKAGE)): sorted(_imported_roots(path) & DEV_ONLY)
        for path in sorted(PACKAGE.rglob("*.py"))
    }
    assert {name: roots for name, roots in found.items() if roots} == {}
