"""Write the shell completion scripts for distribution packagers (`make completions`).

`completions/` at the top of the repository holds what `sk completion SHELL` prints, one file
per shell under the name each shell's completion directory expects, so that a package can
install them without running `sk` at build time. They come from the same source as the
command (Click's completion classes, scalekit_cli/cli/completion.py); tests/cli/
test_completions.py regenerates them and fails when the committed copies differ.

    python scripts/completions.py [DIRECTORY]   # default: completions/
"""

from __future__ import annotations

import sys
from pathlib import Path

from scalekit_cli.commands.completion import script

# shell → the file name its completion directory expects
FILES = {"bash": "sk.bash", "zsh": "_sk", "fish": "sk.fish", "powershell": "sk.ps1"}


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for shell, name in FILES.items():
        path = directory / name
        path.write_text(script(shell), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    directory = Path(argv[0]) if argv else Path(__file__).parents[1] / "completions"
    for path in write(directory):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
