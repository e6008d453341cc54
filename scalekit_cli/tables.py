"""Laying a table out for a terminal of a given width: pure functions, no I/O.

Like `gh`: no borders, two spaces between columns, one line per row. When the table is wider
than the terminal, text columns (subjects, snippets, descriptions) are cut at a word with `…`
down to a floor; if that is not enough, the least important columns are left out. A column
marked `keep` (a status, an id you copy into `--account-id`) is never cut nor left out.
Times are shown relative to now (`in 59m`, `3h ago`); the exact value stays in pipes and
`--json`, which never come here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

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
    """Columns a terminal gives `text`: wide East Asian characters take two, combining marks
    none."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


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
        shown.remove(min(droppable, key=lambda i: (columns[i].drop, -i)))


def _fit(
    columns: Sequence[Column], natural: list[int], shown: list[int], width: int
) -> list[int] | None:
    """Widths for `shown` within `width`, cutting text columns no lower than their floor;
    None when they cannot fit. Text columns that are never left out share the room fairly;
    those that may be left out (a snippet) get what remains, the later-dropped first."""
    room = width - GAP * (len(shown) - 1)
    fixed = sum(natural[i] for i in shown if not columns[i].shrink)
    flexible = [i for i in shown if columns[i].shrink]
    floor = {
        i: min(natural[i], max(columns[i].shrink, cell_width(columns[i].name))) for i in flexible
    }
    left = room - fixed
    if left < sum(floor.values()):
        return None
    staying = [i for i in flexible if not columns[i].drop]
    leaving = sorted((i for i in flexible if columns[i].drop), key=lambda i: -columns[i].drop)
    given = _share(staying, natural, floor, left - sum(floor[i] for i in leaving))
    left -= sum(given.values())
    for index in leaving:
        given[index] = min(natural[index], max(floor[index], left))
        left -= given[index]
    return [given.get(i, natural[i]) for i in shown]


def _tighten(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    natural: list[int],
    shown: list[int],
    widths: list[int],
) -> list[int]:
    """Text cut at a word is often narrower than its column: give that room back, to the
    columns that may be left out (a snippet), which got only what remained."""
    tight = list(widths)
    slack = 0
    for position, index in enumerate(shown):
        column = columns[index]
        if column.shrink and not column.drop and widths[position] < natural[index]:
            used = max(
                [cell_width(column.name)]
                + [cell_width(cut_at_word(row[index], widths[position])) for row in rows]
            )
            slack += widths[position] - used
            tight[position] = used
    for position, index in enumerate(shown):
        if columns[index].shrink and columns[index].drop and slack:
            extra = min(slack, natural[index] - tight[position])
            tight[position] += extra
            slack -= extra
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


def render(
    headers: Sequence[str | Column],
    rows: Sequence[Sequence[str]],
    width: int,
    *,
    now: datetime | None = None,
    bold: bool = False,
) -> list[str]:
    """The table's lines for a terminal `width` columns wide."""
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

    def line(texts: Sequence[str]) -> str:
        parts = []
        for position, (index, size) in enumerate(zip(shown, widths, strict=True)):
            text = cut_at_word(texts[index], size)
            last = position == len(shown) - 1
            parts.append(text if last else text + " " * (size - cell_width(text)))
        return (" " * GAP).join(parts).rstrip()

    header = line([column.name for column in columns])
    lines = [f"\033[1m{header}\033[0m" if bold else header]
    lines.extend(line(row) for row in cells)
    return lines
