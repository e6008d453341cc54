"""docs/reliability.md says what the tests assert: its generated tables are rendered again from
the data the tests run on and compared, and every command is either a row or explained."""

from __future__ import annotations

from pathlib import Path

from scalekit_cli.cli.app import leaf_commands as app_leaf_commands
from tests.reliability import figures, matrix

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
REGENERATE = "regenerate it: python -m tests.reliability.matrix (see the page's 'Running it')"


def generated(text: str, start: str, end: str) -> str:
    assert text.count(start) == 1 and text.count(end) == 1, f"markers missing: {start}"
    return text[text.index(start) : text.index(end) + len(end)]


def test_the_fault_matrix_tables_match_the_tests() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = generated(text, matrix.SECTION_START, matrix.SECTION_END)
    assert section == matrix.render_section(), REGENERATE


def test_the_cache_figures_match_the_tests() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = generated(text, figures.SECTION_START, figures.SECTION_END)
    assert section == figures.render_cache_facts()


def leaf_commands() -> set[str]:
    return {" ".join(path) for path, _ in app_leaf_commands()}


def test_every_command_has_a_row_or_a_reason() -> None:
    """A command added later is either given rows in the matrix or said to need none."""
    in_matrix = {row.command for row in matrix.ROWS}
    explained = set(matrix.NOT_IN_MATRIX)
    assert not in_matrix & explained
    assert leaf_commands() == in_matrix | explained


def test_the_rows_name_real_requests() -> None:
    """Each row's command is run with its own arguments (a typo would make a cell test nothing
    but a usage error), and the rows' keys are unique."""
    keys = [row.key for row in matrix.ROWS]
    assert len(keys) == len(set(keys))
    for row in matrix.ROWS:
        assert row.args[: len(row.command.split())] == tuple(row.command.split()), row.key
