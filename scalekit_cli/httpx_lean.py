"""httpx, without its optional command-line module: the one place sk imports httpx from.

`import httpx` also imports `httpx._main` (its own CLI) whenever click, rich and pygments are
installed — and they are, next to Typer — which puts rich and pygments on every command's
start (encode/httpx#3547; measure with `python -X importtime -c "import httpx"`). Marking that
module absent makes httpx take its documented fallback for a missing CLI.
"""

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from httpx import *  # noqa: E402, F403
from httpx import __version__  # noqa: E402, F401
