"""The one place that knows about terminals: streams, TTYs, colour, `--json` and redaction.

Results go to stdout; progress, hints, warnings and errors to stderr. Every line written passes
through the secret registry unless `--debug` is set, so a token can only reach a stream when
the user asked for it. rich is imported only when a terminal will actually show its output.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from .scalekit.secrets import GLOBAL_SECRETS, SecretRegistry, redact_document

if TYPE_CHECKING:  # httpx is loaded only by commands that make requests, not by --help
    from .scalekit.http import Exchange
    from .tables import Column

_TRACE_BODY_LIMIT = 2000


# C0 and C1 control characters other than tab and newline: what a terminal would act on.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text with terminal control characters (ESC sequences, CR, BEL…) made visible."""
    return _CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


class _PlainStatus:
    """A spinner whose text is always taken literally (identifiers may hold `[` and `]`)."""

    def __init__(self, status: Any, out: Output) -> None:
        self._status = status
        self._out = out

    def update(self, message: str) -> None:
        from rich.text import Text

        self._status.update(Text(printable(self._out.scrub(message))))


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass
class Output:
    stdout: TextIO
    stderr: TextIO
    stdin: TextIO
    stdout_tty: bool
    stderr_tty: bool
    stdin_tty: bool
    color: bool
    json_mode: bool = False
    verbose: bool = False
    debug: bool = False
    secrets: SecretRegistry = field(default_factory=lambda: GLOBAL_SECRETS)
    github_actions: bool = False  # GITHUB_ACTIONS=true: mask revealed secrets in the job log
    _masked: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def from_system(
        cls, *, json_mode: bool = False, verbose: bool = False, debug: bool = False
    ) -> Output:
        stdout, stderr, stdin = sys.stdout, sys.stderr, sys.stdin
        stderr_tty = _is_tty(stderr)
        # no-color.org: NO_COLOR counts when present and not empty.
        no_color = bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"
        return cls(
            stdout=stdout,
            stderr=stderr,
            stdin=stdin,
            stdout_tty=_is_tty(stdout),
            stderr_tty=stderr_tty,
            stdin_tty=_is_tty(stdin),
            color=stderr_tty and not no_color,
            json_mode=json_mode,
            verbose=verbose or debug,
            debug=debug,
            github_actions=os.environ.get("GITHUB_ACTIONS") == "true",
        )

    # -- redaction ------------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        return text if self.debug else self.secrets.scrub(text)

    def reveal(self, secret: str) -> str:
        """A secret as the user may see it: whole under --debug, masked otherwise."""
        from .scalekit.secrets import mask

        self.secrets.add(secret)
        self._mask_revealed()
        return secret if self.debug else mask(secret)

    def mask_in_ci(self, secret: str) -> None:
        """Under GitHub Actions, have the runner mask `secret` in the job log (`::add-mask::`
        on stderr) — for a secret handed on (to a child process, to $GITHUB_ENV) even
        without --debug, since whatever receives it may print it."""
        if self.github_actions and secret and secret not in self._masked:
            from .github_actions import add_mask

            self._masked.add(secret)
            add_mask(self.stderr, secret)

    def _mask_revealed(self) -> None:
        # Under --debug any known secret may be written whole from here on: mask each one
        # before the first write that could carry it, so stdout itself stays clean.
        if self.debug and self.github_actions:
            for secret in self.secrets.values():
                self.mask_in_ci(secret)

    def redact(self, document: Any) -> Any:
        return document if self.debug else redact_document(document)

    # -- stdout ---------------------------------------------------------------------------------

    def result(self, text: str) -> None:
        self._mask_revealed()
        self.stdout.write(self.scrub(text) + "\n")
        self.stdout.flush()

    def raw(self, data: bytes) -> None:
        """Bytes exactly as received (a proxied response body), known secrets scrubbed."""
        self._mask_revealed()
        # surrogateescape keeps any byte sequence intact through the text-level scrub.
        text = self.scrub(data.decode("utf-8", "surrogateescape"))
        buffer = getattr(self.stdout, "buffer", None)
        if buffer is None:
            self.stdout.write(text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
        else:
            self.stdout.flush()
            buffer.write(text.encode("utf-8", "surrogateescape"))
            buffer.flush()
        self.stdout.flush()

    def json(self, document: Any) -> None:
        text = json.dumps(self.redact(document), indent=2, ensure_ascii=False)
        self.result(text)

    def pretty_json(self, document: Any) -> None:
        """JSON for a person: highlighted on a colour terminal, plain otherwise."""
        text = self.scrub(json.dumps(document, indent=2, ensure_ascii=False))
        self._mask_revealed()
        if self.stdout_tty and self.color:
            from rich.console import Console
            from rich.syntax import Syntax

            Console(file=self.stdout).print(Syntax(text, "json", background_color="default"))
        else:
            self.result(text)

    def table(self, headers: Sequence[str | Column], rows: Iterable[Sequence[str]]) -> None:
        """On a terminal, a borderless table fitted to its width (scalekit_cli/tables.py: text
        cut at a word, the least important columns left out first, times relative to now).
        In a pipe, tab-separated lines (header first) with every value exact, each written as
        it comes from `rows`."""
        names = [header if isinstance(header, str) else header.name for header in headers]
        if self.stdout_tty:
            from .tables import render

            self._mask_revealed()
            cells = [[printable(self.scrub(cell)) for cell in row] for row in rows]
            for line in render(headers, cells, self.terminal_width(), bold=self.color):
                self.stdout.write(line + "\n")
            self.stdout.flush()
            return
        self.result("\t".join(names))
        for row in rows:
            self.result(
                "\t".join(printable(cell).replace("\t", " ").replace("\n", " ") for cell in row)
            )

    def terminal_width(self) -> int:
        """The width of the terminal stdout shows on: $COLUMNS when set (as shutil and rich
        read it), else the terminal's own size, else 80."""
        columns = os.environ.get("COLUMNS", "")
        if columns.isdigit() and int(columns) > 0:
            return int(columns)
        try:
            return os.get_terminal_size(self.stdout.fileno()).columns or 80
        except (AttributeError, OSError, ValueError):
            return 80

    # -- stderr ---------------------------------------------------------------------------------

    def _err(self, text: str) -> None:
        self._mask_revealed()
        self.stderr.write(self.scrub(text) + "\n")
        self.stderr.flush()

    # Messages may quote what a server said: printable() keeps its escape sequences from
    # reaching the terminal.

    def info(self, message: str) -> None:
        self._err(printable(message))

    def success(self, message: str) -> None:
        self._err(f"{self._paint('✓', 'green')} {printable(message)}")

    def warn(self, message: str) -> None:
        self._err(f"{self._paint('!', 'yellow')} {printable(message)}")

    def error(self, message: str) -> None:
        self._err(f"sk: {printable(message)}")

    def drawing(self, lines: Iterable[str]) -> None:
        """Lines this program drew itself (a QR code), on stderr with their own colour codes
        intact. Never for text a server sent: that goes through info() and the neutraliser."""
        for line in lines:
            self._err(line)

    def detail(self, message: str) -> None:
        """Shown under --verbose only."""
        if self.verbose:
            self._err(f"  {printable(message)}")

    def _paint(self, text: str, colour: str) -> str:
        if not self.color:
            return text
        codes = {"green": "32", "yellow": "33", "red": "31", "dim": "2"}
        return f"\033[{codes[colour]}m{text}\033[0m"

    @contextmanager
    def spinner(self, message: str) -> Iterator[Any]:
        """A rich status spinner on a colour terminal; None elsewhere (callers print lines)."""
        if not (self.stderr_tty and self.color):
            yield None
            return
        from rich.console import Console
        from rich.text import Text

        console = Console(file=self.stderr)
        with console.status(Text(printable(message))) as status:
            yield _PlainStatus(status, self)

    # -- --verbose HTTP trace -------------------------------------------------------------------

    def trace(self, exchange: Exchange) -> None:
        if not self.verbose:
            return
        outcome = (
            f"{exchange.status}" if exchange.status is not None else f"failed: {exchange.error}"
        )
        retry = f", retrying in {exchange.retry_in:.1f} s" if exchange.retry_in is not None else ""
        attempt = f" (attempt {exchange.attempt + 1})" if exchange.attempt else ""
        self._err(
            f"* {exchange.method} {exchange.url}{attempt} → {outcome} "
            f"in {exchange.elapsed * 1000:.0f} ms{retry}"
        )
        authorization = exchange.request_headers.get("authorization")
        if authorization:
            scheme, _, credential = authorization.partition(" ")
            self._err(f"  > authorization: {scheme} {self.reveal(credential)}")
        for label, body in (
            ("request", exchange.request_body),
            ("response", exchange.response_body),
        ):
            if body:
                self._err(f"  {'>' if label == 'request' else '<'} {self._trace_body(body)}")

    def _trace_body(self, body: bytes) -> str:
        try:
            document = json.loads(body)
        except ValueError:
            text = body.decode("utf-8", "replace")
            # Form bodies (the token exchange) carry the client secret by name.
            if "client_secret=" in text:
                from urllib.parse import parse_qsl, urlencode

                fields = dict(parse_qsl(text))
                text = urlencode(self.redact(fields))
        else:
            self.secrets.add_from(document)
            text = json.dumps(self.redact(document), ensure_ascii=False)
        if len(text) > _TRACE_BODY_LIMIT:
            text = text[:_TRACE_BODY_LIMIT] + f"… ({len(text)} characters)"
        return text
