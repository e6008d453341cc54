"""A QR code for a terminal, drawn with half-block characters (two module rows per line).

segno (pure Python, small) makes the matrix and is imported only when a code is drawn.
Light modules, quiet zone included, are drawn as the "ink" (█ ▀ ▄) and dark modules as
blanks. With colour, the ink is white on a black background, whatever the terminal's theme;
without colour, the code reads right on the common dark-background terminal.
"""

from __future__ import annotations

QUIET_ZONE = 2  # modules of light border; phones read terminal codes fine with 2

# (top light, bottom light) → the character that shows it.
_BLOCKS = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
_INK_ON_BLACK = "\033[97;40m"
_RESET = "\033[0m"


def light_rows(text: str, border: int = QUIET_ZONE) -> list[list[bool]]:
    """The code's modules, border included, row by row: True where the module is light."""
    import segno

    code = segno.make_qr(text)
    return [[not dark for dark in row] for row in code.matrix_iter(scale=1, border=border)]


def render(text: str, *, color: bool) -> list[str]:
    """The lines that draw `text`'s QR code."""
    rows = light_rows(text)
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))  # below the last row: the terminal's background
    lines = []
    for top, bottom in zip(rows[0::2], rows[1::2], strict=True):
        line = "".join(_BLOCKS[pair] for pair in zip(top, bottom, strict=True))
        lines.append(f"{_INK_ON_BLACK}{line}{_RESET}" if color else line)
    return lines
