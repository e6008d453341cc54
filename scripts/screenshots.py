"""Terminal screenshots of `sk` for the README, made from real runs (`make screenshots`).

A fresh in-memory sandbox serves on a loopback port; each picture runs one command's own
`run(options, runtime)` over real HTTP, with both of its streams going into a rich
recording console (100 columns, colour on, stdout a terminal), saved as SVG. Redaction stays
on, so tokens show as `ya29…[redacted]`, as they would on your screen.

    python scripts/screenshots.py [--out docs/screenshots]

One difference from an interactive terminal: `sk connect`'s spinner is transient, so the
connect picture shows the progress line `sk` prints where there is no spinner instead.
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

# An e-mail address as the identifier; its deterministic sandbox mailbox has no wide (CJK)
# or symbol characters among its newest unread messages: rich's SVG export misaligns those.
USER = "li@example.com"
WIDTH = 100
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


class ConsoleStream(io.TextIOBase):
    """A text stream that hands each complete line, ANSI colours parsed, to a rich console.

    `Output` writes to it as to a terminal (it says it is one), including what its own rich
    consoles render (tables, highlighted JSON); `on_line` sees every plain line as written.
    """

    def __init__(self, console: Console, on_line: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.console = console
        self.on_line = on_line
        self._pending = ""

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def isatty(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            self.console.print(Text.from_ansi(line), soft_wrap=True)
            if self.on_line is not None:
                self.on_line(line)
        return len(text)

    def finish(self) -> None:
        if self._pending:
            self.write("\n")


@dataclass
class Scene:
    name: str  # the SVG's file name, without .svg
    command: str  # the command line shown above the output
    run: Callable[[Any], int]  # runs the command with a Runtime


def _runtime(stream: io.TextIOBase, environ: dict[str, str]):
    from scalekit_cli.config import Flags
    from scalekit_cli.output import Output
    from scalekit_cli.runtime import Runtime

    out = Output(
        stdout=stream,  # type: ignore[arg-type]
        stderr=stream,  # type: ignore[arg-type]
        stdin=io.StringIO(),
        stdout_tty=True,
        stderr_tty=False,  # no transient spinner: see the module's docstring
        stdin_tty=False,
        color=True,
    )
    return Runtime(out=out, flags=Flags(), environ=environ)


def _approve_when_shown(line: str) -> None:
    """Press Allow on the hosted page of the link `sk connect` printed, as its user would,
    once a status poll or two went by."""
    if "/magic/" not in line or not line.startswith("http"):
        return
    from scalekit_cli.sandbox.hosted_form import approve_as_browser

    def approve() -> None:
        time.sleep(0.8)
        approve_as_browser(line.strip())

    threading.Thread(target=approve, daemon=True).start()


def _connect_quietly(environ: dict[str, str], connector: str, **fill: str) -> None:
    """Set an account up for the later pictures, off camera."""
    from scalekit_cli.sandbox.hosted_form import approve_as_browser

    runtime = _runtime(ConsoleStream(Console(file=io.StringIO())), environ)
    try:
        client = runtime.scalekit()
        client.get_or_create_account(connector, USER)
        approve_as_browser(client.magic_link(connector, USER).link, fill=fill or None)
    finally:
        runtime.close()


def scenes() -> list[Scene]:
    from scalekit_cli.commands import connect, exec_tool, gmail, status, token

    fetch = '{"query": "is:unread", "max_results": 1}'
    return [
        Scene(
            "connect",
            f"sk connect gmail --user {USER}",
            lambda rt: connect.run(connect.ConnectOptions("gmail", USER, interval=0.5), rt),
        ),
        Scene(
            "status",
            f"sk status --user {USER}",
            lambda rt: status.run(status.StatusOptions(None, USER), rt),
        ),
        Scene(
            "token",
            f"sk token gmail --user {USER}",
            lambda rt: token.run(token.TokenOptions("gmail", USER), rt),
        ),
        Scene(
            "gmail-unread",
            f"sk gmail unread --user {USER} --limit 4",
            lambda rt: gmail.run(gmail.UnreadOptions(USER, limit=4), rt),
        ),
        Scene(
            "exec-tool",
            f"sk exec-tool gmail_fetch_mails --user {USER} -d '{fetch}'",
            lambda rt: exec_tool.run(
                exec_tool.ExecToolOptions("gmail_fetch_mails", USER, data=fetch), rt
            ),
        ),
    ]


def shoot(scene: Scene, environ: dict[str, str], out_dir: Path) -> Path:
    console = Console(record=True, force_terminal=True, width=WIDTH, file=io.StringIO())
    console.print(Text.assemble(("$ ", "bold green"), (scene.command, "bold")))
    stream = ConsoleStream(console, on_line=_approve_when_shown)
    runtime = _runtime(stream, environ)
    try:
        code = scene.run(runtime)
    finally:
        runtime.close()
        stream.finish()
    console.print()  # the SVG clips the last line's descenders (the _ of user_123)
    if code != 0:
        raise SystemExit(f"`{scene.command}` exited {code}: the picture would show a failure")
    path = out_dir / f"{scene.name}.svg"
    console.save_svg(str(path), title=scene.command)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the SVGs go")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    from scalekit_cli.sandbox import EmbeddedSandbox, SandboxSettings

    with tempfile.TemporaryDirectory(prefix="sk-screenshots-") as home:
        # Nothing of the user's: no token cache, data or config of theirs is read or written.
        for name in ("SK_CACHE_DIR", "SK_DATA_DIR", "SK_CONFIG_DIR"):
            os.environ[name] = str(Path(home) / name.lower())
        # What Output's own rich consoles (tables, JSON) see: a wide, colourful terminal.
        os.environ.update({"COLUMNS": str(WIDTH), "TERM": "xterm-256color"})
        os.environ["COLORTERM"] = "truecolor"
        os.environ.pop("NO_COLOR", None)

        settings = SandboxSettings(
            client_id="skc_screenshots", client_secret=secrets.token_urlsafe(24)
        )
        sandbox = EmbeddedSandbox(settings)  # state in memory: every run starts empty
        try:
            url = sandbox.start_server()
            environ = {
                "SCALEKIT_ENV_URL": url,
                "SCALEKIT_CLIENT_ID": settings.client_id,
                "SCALEKIT_CLIENT_SECRET": settings.client_secret,
                "SK_GMAIL_API_URL": url,
                "SK_DEBUG": "0",  # never reveal, whatever a .env here says
            }
            all_scenes = scenes()
            shoot(all_scenes[0], environ, args.out)
            # More than one account makes a better status picture.
            _connect_quietly(environ, "github")
            _connect_quietly(environ, "exa", api_key="exa-" + secrets.token_hex(12))
            written = [args.out / "connect.svg"]
            written += [shoot(scene, environ, args.out) for scene in all_scenes[1:]]
        finally:
            sandbox.close()
    for path in written:
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
