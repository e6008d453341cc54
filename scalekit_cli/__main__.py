"""`sk` — the console script and `python -m scalekit_cli`."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    try:
        from .app import app

        return int(app(args=argv, prog_name="sk", standalone_mode=False) or 0)
    except KeyboardInterrupt:
        sys.stderr.write("sk: interrupted\n")
        return 130
    except Exception as exc:  # a bug of ours: still one line, and no secret in it
        if os.environ.get("SK_DEBUG") == "1":
            raise
        from .scalekit.secrets import GLOBAL_SECRETS

        message = GLOBAL_SECRETS.scrub(f"{type(exc).__name__}: {exc}")
        sys.stderr.write(f"sk: internal error: {message} (rerun with SK_DEBUG=1 for details)\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
