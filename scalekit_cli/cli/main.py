"""`sk` — the console script and `python -m scalekit_cli`."""

from __future__ import annotations

import contextlib
import gc
import os
import sys

from ..errors import Terminated

TERMINATING_SIGNALS = ("SIGTERM", "SIGHUP")


def _raise_terminated(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def main(argv: list[str] | None = None, *, fast: bool = True) -> int:
    """Run sk. Without `argv` this is the process's own command line, and the process ends
    here; `fast=False` always takes the Typer app (tests compare the two paths)."""
    code = _run(argv, fast)
    if argv is None:
        _end_process(code)
    return code


def _end_process(code: int) -> None:
    """Flush the standard streams and end the process without the interpreter's finalization:
    ~4 ms even for a bare interpreter, which is what made `sk connect`'s exit trail its success
    line (docs/benchmarks.md). Nothing of sk's needs it: files are closed by their `with`
    blocks, the runtime has closed its connections and the embedded sandbox's state, executor
    threads are joined, and the threads left are daemons."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            # A reader that went away (`sk … | head -1`): status 1 and no traceback, as Typer
            # answers a closed pipe during the command.
            code = code or 1
    os._exit(code)


def _run(argv: list[str] | None, fast: bool) -> int:
    import signal

    for name in TERMINATING_SIGNALS:
        if hasattr(signal, name):  # Windows has neither
            signal.signal(getattr(signal, name), _raise_terminated)
    if argv is None:
        # Start-up allocates some 100 000 objects (imports, Typer's command), and at the default
        # threshold of 700 the collector runs over them hundreds of times finding nothing to
        # free: ~5 % of `sk token`. Long-running commands (connect, sandbox serve) still
        # collect, only in larger steps.
        gc.set_threshold(50_000, 20, 20)
    try:
        code = None
        if fast:
            # `sk token …` skips building the Typer app when its arguments are plain.
            from ..fastpath import run as run_fast_path

            code = run_fast_path(sys.argv[1:] if argv is None else argv)
        if code is None:
            from .app import app

            code = int(app(args=argv, prog_name="sk", standalone_mode=False) or 0)
        return code
    except KeyboardInterrupt:
        sys.stderr.write("sk: interrupted\n")
        return 130
    except Terminated as exc:
        with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
            sys.stderr.write("sk: terminated\n")
            sys.stderr.flush()
        return 128 + exc.signum
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
    finally:
        if argv is None:
            # Should the process still end through the interpreter's shutdown (a SystemExit
            # raised past main), that shutdown collects garbage over every object of every
            # module loaded (~40 000 with Typer and pydantic): 50-150 ms that find nothing
            # worth freeing, since the process is ending. Frozen objects are left out.
            gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
