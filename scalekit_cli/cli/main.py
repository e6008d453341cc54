"""`sk` — the console script and `python -m scalekit_cli`."""

from __future__ import annotations

import contextlib
import os
import sys

from ..errors import Terminated

TERMINATING_SIGNALS = ("SIGTERM", "SIGHUP")


def _raise_terminated(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def main(argv: list[str] | None = None) -> int:
    """Run sk. Without `argv` this is the process's own command line."""
    code = _run(argv)
    if argv is None:
        code = _flush(code)
    return code


def _flush(code: int) -> int:
    """Flush stdout before the interpreter does, so that a reader that went away
    (`sk … | head -1`) ends sk with status 1 and no traceback: Python's documented answer to
    SIGPIPE (library/signal.html, "Note on SIGPIPE") — point stdout at devnull, so the
    interpreter's own flush at exit has nothing left to fail on."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return code or 1
    except ValueError:  # stdout closed by the command itself
        pass
    return code


def _run(argv: list[str] | None) -> int:
    import signal

    for name in TERMINATING_SIGNALS:
        if hasattr(signal, name):  # Windows has neither
            signal.signal(getattr(signal, name), _raise_terminated)
    try:
        from .app import app

        return int(app(args=argv, prog_name="sk", standalone_mode=False) or 0)
    except KeyboardInterrupt:
        sys.stderr.write("sk: interrupted\n")
        return 130
    except Terminated as exc:
        with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
            sys.stderr.write("sk: terminated\n")
            sys.stderr.flush()
        return 128 + exc.signum
    except BrokenPipeError:
        # The reader went away while the command wrote (`sk … | head -1`).
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:  # a bug of ours: still one line, and no secret in it
        from ..output import printable
        from ..scalekit.secrets import GLOBAL_SECRETS

        if os.environ.get("SK_DEBUG") == "1":
            # The traceback, for whoever debugs sk; the environment's credentials stay out.
            import traceback

            sys.stderr.write(GLOBAL_SECRETS.scrub(traceback.format_exc(), credentials_only=True))
        message = printable(GLOBAL_SECRETS.scrub(f"{type(exc).__name__}: {exc}"), one_line=True)
        sys.stderr.write(f"sk: internal error: {message} (rerun with SK_DEBUG=1 for details)\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
