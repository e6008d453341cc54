"""A table for a terminal of a given width, drawn by `rich.table` (no I/O here).

Like `gh`: no borders, two spaces between columns, one line per row. Which columns show and
how wide each is stays ours, since rich's own shrinking cuts any column, ids included, inside
a word: when the table is wider than the terminal, the text columns (senders, subjects,
snippets, descriptions) share the room fairly and are cut at a word with `…` down to a floor;
if that is not enough, columns are left out, one whose cells are all alike (`Type`: OAUTH on
every row) before the others, then by their `drop` order. A column marked `keep` (a status,
an id or user identifier you copy into a flag) is never cut nor left out. Times are shown
relative to now (`in 59m`, `3h ago`); the exact value stays in pipes and `--json`, which
never come here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.table import Table

GAP = 2  # spaces between columns
_FRACTION = re.compile(r"(\.\d{6})\d+")  # nanoseconds: more digits than datetime parses


@dataclass(frozen=True)
class Column:
    """A column of a terminal table.

    `drop`: the order in which columns are left out when even cut text does not fit (1 goes
    first; 0 never). `shrink`: the narrowest a text column is cut to (0: never cut).
    `time`: cells are timestamps (RFC 3339 or RFC 2822), shown relative to now."""

    name: str
    drop: int = 0
    shrink: int = 0
    time: bool = False

    @property
    def keep(self) -> bool:
        return self.drop == 0 and self.shrink == 0


def as_column(header: str | Column) -> Column:
    return header if isinstance(header, Column) else Column(header)


def cell_width(text: str) -> int:
    """Columns a terminal gives `text` (wide East Asian characters two, combining marks
    none), measured as rich measures what it draws. rich is imported here, not at the top:
    the commands import Column even when they print to a pipe."""
    from rich.cells import cell_len

    return cell_len(text)


def cut_at_word(text: str, width: int) -> str:
    """`text` in at most `width` columns: cut after the last whole word that fits, with `…`;
    only a first word longer than the room is cut inside it."""
    if cell_width(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    room, used, end = width - 1, 0, 0
    for index, char in enumerate(text):
        size = cell_width(char)
        if used + size > room:
            break
        used += size
        end = index + 1
    head = text[:end]
    space = head.rfind(" ")
    if space > 0 and not text[end : end + 1].isspace():
        head = head[:space]
    return head.rstrip(" ,;:.-–—") + "…"


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 timestamp (the API's) or an RFC 2822 date (a mail's `Date`); None if neither."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(_FRACTION.sub(r"\1", text.replace("Z", "+00:00")))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def relative_time(text: str, now: datetime) -> str:
    """`in 59m`, `3h ago`, `12d ago`; the date beyond a month; the text itself if unparsable."""
    moment = parse_time(text)
    if moment is None:
        return text
    seconds = (moment - now).total_seconds()
    span = abs(seconds)
    if span < 60:
        amount = f"{int(span)}s"
    elif span < 3600:
        amount = f"{int(span // 60)}m"
    elif span < 86400:
        amount = f"{int(span // 3600)}h"
    elif span < 30 * 86400:
        amount = f"{int(span // 86400)}d"
    else:
        return moment.astimezone(UTC).strftime("%Y-%m-%d")
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def layout(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int
) -> tuple[list[int], list[int]]:
    """Which columns to show (their indexes) and how wide each is, for a terminal `width`
    columns wide. The cells are final text (times already relative)."""
    natural = [
        max([cell_width(column.name), *(cell_width(row[i]) for row in rows)])
        for i, column in enumerate(columns)
    ]
    shown = list(range(len(columns)))
    while True:
        widths = _fit(columns, natural, shown, width)
        if widths is not None:
            return shown, _tighten(columns, rows, natural, shown, widths)
        droppable = [i for i in shown if columns[i].drop]
        if not droppable:
            # Only what may never be cut is left: show it whole; the terminal wraps the line.
            return shown, [natural[i] for i in shown]
        # A column that reads the same on every row tells least: it goes first.
        shown.remove(min(droppable, key=lambda i: (not _constant(rows, i), columns[i].drop, -i)))


def _constant(rows: Sequence[Sequence[str]], index: int) -> bool:
    return len(rows) > 1 and len({row[index] for row in rows}) == 1


def _fit(
    columns: Sequence[Column], natural: list[int], shown: list[int], width: int
) -> list[int] | None:
    """Widths for `shown` within `width`, cutting text columns no lower than their floor;
    None when they cannot fit. The text columns share the room fairly, those that may be
    left out (a snippet) as much as those that may not (a sender): a snippet keeps a readable
    share before a sender is cut."""
    room = width - GAP * (len(shown) - 1)
    fixed = sum(natural[i] for i in shown if not columns[i].shrink)
    flexible = [i for i in shown if columns[i].shrink]
    floor = {
        i: min(natural[i], max(columns[i].shrink, cell_width(columns[i].name))) for i in flexible
    }
    left = room - fixed
    if left < sum(floor.values()):
        return None
    given = _share(flexible, natural, floor, left)
    return [given.get(i, natural[i]) for i in shown]


def _tighten(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    natural: list[int],
    shown: list[int],
    widths: list[int],
) -> list[int]:
    """Text cut at a word is often narrower than its column: narrow each cut column to the
    text it shows, then give the room won back to the cut columns, the ones left out last
    first, as far as it shows more of their text."""

    def used(position: int, size: int) -> int:
        index = shown[position]
        texts = [cut_at_word(row[index], size) for row in rows]
        return max([cell_width(columns[index].name), *map(cell_width, texts)])

    cut = [
        position
        for position, index in enumerate(shown)
        if columns[index].shrink and widths[position] < natural[index]
    ]
    tight = list(widths)
    for position in cut:
        tight[position] = used(position, widths[position])
    slack = sum(widths) - sum(tight)
    for position in sorted(cut, key=lambda p: columns[shown[p]].drop):
        more = used(position, tight[position] + slack)
        slack -= more - tight[position]
        tight[position] = more
    return tight


def _share(
    indexes: list[int], natural: list[int], floor: dict[int, int], room: int
) -> dict[int, int]:
    """Water-filling: narrow columns get all they need, the wide ones split what remains."""
    given: dict[int, int] = {}
    pending = sorted(indexes, key=lambda i: natural[i])
    while pending:
        share = room // len(pending)
        if natural[pending[0]] > share:
            for index in pending:
                given[index] = max(floor[index], share)
            break
        index = pending.pop(0)
        given[index] = natural[index]
        room -= natural[index]
    return given


def table(
    headers: Sequence[str | Column],
    rows: Sequence[Sequence[str]],
    width: int,
    *,
    now: datetime | None = None,
    bold: bool = False,
) -> tuple[Table, int]:
    """The rich table for a terminal `width` columns wide, and the width to draw it at (wider
    than the terminal only when what may never be cut does not fit: the terminal wraps)."""
    from rich.table import Table
    from rich.text import Text

    columns = [as_column(header) for header in headers]
    moment = now or datetime.now(UTC)
    cells = [
        [
            relative_time(cell, moment) if column.time else cell
            for column, cell in zip(columns, row, strict=True)
        ]
        for row in rows
    ]
    shown, widths = layout(columns, cells, width)
    drawn = Table(
        box=None,
        padding=(0, GAP // 2),
        pad_edge=False,
        show_edge=False,
        header_style="bold" if bold else "",
        highlight=False,
    )
    for index, size in zip(shown, widths, strict=True):
        # Our widths, not rich's: the text is already cut at a word to fit.
        drawn.add_column(columns[index].name, width=size, no_wrap=True, overflow="ellipsis")
    for row in cells:
        drawn.add_row(
            *(Text(cut_at_word(row[i], size)) for i, size in zip(shown, widths, strict=True))
        )
    return drawn, max(width, sum(widths) + GAP * (len(widths) - 1))
