"""The one place that knows about terminals: streams, TTYs, colour, `--json` and redaction.

Results go to stdout; progress, hints, warnings and errors to stderr. Every line written passes
through the secret registry: `--debug` lets through the secrets a command outputs (a token),
never the environment's credentials (client secret, machine token), and never into the
`--verbose` trace, which is always redacted. rich is imported only when a terminal will
actually show its output.
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
from urllib.parse import urlsplit

from .scalekit.secrets import GLOBAL_SECRETS, SecretRegistry, redact_document

if TYPE_CHECKING:  # httpx is loaded only by commands that make requests, not by --help
    from .scalekit.http import Exchange
    from .tables import Column

_TRACE_BODY_LIMIT = 2000


# What a terminal would act on, or what would make a line lie about itself: C0 and C1 control
# characters (ESC starts every escape sequence, CSI U+009B is one on its own; BEL, CR, BS)
# and the bidi overrides and isolates (U+202A-U+202E, U+2066-U+2069), which reorder what is
# shown. Tab and newline are kept in text, turned visible on one line.
# The line and paragraph separators (U+2028, U+2029) go too: some readers break lines there.
_UNSAFE = "\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029"
# In text (and JSON text, where json.dumps has escaped C0 in strings already), the raw tab and
# newline are the layout's own; on one line they go too.
_UNSAFE_IN_TEXT = re.compile(f"[{_UNSAFE}]")
_UNSAFE_ON_ONE_LINE = re.compile(f"[\t\n{_UNSAFE}]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, one_line: bool = False) -> str:
    """Server-supplied text made safe for a terminal: every control and bidi character written
    as a visible escape (`\\x1b`, `\\u202e`), so no escape sequence is obeyed and no text is
    reordered; with `one_line`, line breaks and tabs too, so a message cannot forge a line.
    The one mechanism every path of this module writes server strings through."""
    pattern = _UNSAFE_ON_ONE_LINE if one_line else _UNSAFE_IN_TEXT
    return pattern.sub(_visible, text)


def json_text(document: Any, *, indent: int | None = 2) -> str:
    """JSON whose strings carry no control or bidi character raw: json.dumps escapes C0 itself;
    DEL, C1, the bidi characters and the line separators are written as `\\uXXXX` escapes,
    which keeps the text valid JSON (they can occur only inside strings)."""
    text = json.dumps(document, indent=indent, ensure_ascii=False)
    return _UNSAFE_IN_TEXT.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


class _PlainStatus:
    """A spinner whose text is always taken literally (identifiers may hold `[` and `]`)."""

    def __init__(self, status: Any, out: Output) -> None:
        self._status = status
        self._out = out

    def update(self, message: str) -> None:
        from rich.text import Text

        self._status.update(Text(printable(self._out.scrub(message), one_line=True)))


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
    # A path prefix whose answers' bodies the command itself prints (`sk request`): the
    # trace names them instead of showing each body twice.
    bodies_printed_under: str | None = None
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
            verbose=verbose,
            debug=debug,
            github_actions=os.environ.get("GITHUB_ACTIONS") == "true",
        )

    # -- redaction ------------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        return self.secrets.scrub(text, credentials_only=self.debug)

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
            for secret in self.secrets.values(credentials=False):
                self.mask_in_ci(secret)

    def redact(self, document: Any) -> Any:
        return document if self.debug else redact_document(document)

    # -- stdout ---------------------------------------------------------------------------------

    def result(self, text: str, *, mark: str = "") -> None:
        """A line of text (it may quote a server) on stdout; `mark` is styling of our own."""
        self._line_out(mark + printable(self.scrub(text)))

    def _line_out(self, text: str) -> None:
        self._mask_revealed()
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def raw(self, data: bytes) -> None:
        """Bytes exactly as received (a proxied response body), known secrets scrubbed; on a
        terminal, with control and bidi characters made visible like any server text."""
        self._mask_revealed()
        if self.stdout_tty:
            self.stdout.write(printable(self.scrub(data.decode("utf-8", "replace"))))
            self.stdout.flush()
            return
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

    def json(self, document: Any, *, redact: bool = True) -> None:
        """A JSON document on stdout; `redact=False` keeps secret-named fields (known secret
        values are still scrubbed)."""
        self._line_out(self.scrub(json_text(self.redact(document) if redact else document)))

    def pretty_json(self, document: Any) -> None:
        """JSON for a person: highlighted on a colour terminal, plain otherwise. rich wraps
        long lines (word_wrap) rather than crop them at the terminal's edge: on a terminal
        every character of the value must still be there to read or copy."""
        text = self.scrub(json_text(document))
        self._mask_revealed()
        if self.stdout_tty and self.color:
            from rich.console import Console
            from rich.syntax import Syntax

            Console(file=self.stdout).print(
                Syntax(text, "json", background_color="default", word_wrap=True)
            )
        else:
            self._line_out(text)

    def json_array(self, documents: Iterable[Any]) -> int:
        """A JSON array written element by element, one in memory at a time; closed even when
        `documents` fails midway, so stdout stays valid JSON. The element count."""
        count = 0
        self._mask_revealed()
        self.stdout.write("[")
        try:
            for document in documents:
                text = self.scrub(json_text(self.redact(document)))
                self.stdout.write(("," if count else "") + "\n  " + text.replace("\n", "\n  "))
                count += 1
        finally:
            self.stdout.write("\n]\n" if count else "]\n")
            self.stdout.flush()
        return count

    def table(self, headers: Sequence[str | Column], rows: Iterable[Sequence[str]]) -> None:
        """On a terminal, a borderless table fitted to its width, drawn by rich.table
        (scalekit_cli/tables.py: text cut at a word, the least important columns left out
        first, times relative to now).
        In a pipe, tab-separated lines (header first) with every value exact, each written as
        it comes from `rows`."""
        names = [header if isinstance(header, str) else header.name for header in headers]
        if self.stdout_tty:
            from rich.console import Console

            from .tables import table

            self._mask_revealed()
            cells = [[printable(self.scrub(cell), one_line=True) for cell in row] for row in rows]
            drawn, width = table(headers, cells, self.terminal_width(), bold=self.color)
            console = Console(
                file=self.stdout,
                width=width,
                force_terminal=True,
                color_system="standard" if self.color else None,
                highlight=False,
                emoji=False,
                markup=False,
            )
            console.print(drawn)
            self.stdout.flush()
            return
        self.result("\t".join(names))
        for row in rows:
            self._line_out("\t".join(printable(self.scrub(cell), one_line=True) for cell in row))

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

    def _err(self, message: str, mark: str = "") -> None:
        """One line on stderr. Messages may quote what a server said: printable() keeps its
        escape sequences from reaching the terminal and its line breaks from forging a second
        line; `mark` is styling of our own."""
        self._mask_revealed()
        self.stderr.write(mark + printable(self.scrub(message), one_line=True) + "\n")
        self.stderr.flush()

    def info(self, message: str) -> None:
        self._err(message)

    def success(self, message: str) -> None:
        self._err(message, f"{self._paint('✓', 'green')} ")

    def warn(self, message: str) -> None:
        self._err(message, f"{self._paint('!', 'yellow')} ")

    def error(self, message: str) -> None:
        self._err(message, "sk: ")

    def drawing(self, lines: Iterable[str]) -> None:
        """Lines this program drew itself (a QR code), on stderr with their own colour codes
        intact. Never for text a server sent: that goes through info() and the neutraliser."""
        self._mask_revealed()
        for line in lines:
            self.stderr.write(line + "\n")
        self.stderr.flush()

    def detail(self, message: str) -> None:
        """Shown under --verbose only."""
        if self.verbose:
            self._err(message, "  ")

    def prompt(self, question: str) -> None:
        """A question on stderr, the answer to be typed on the same line."""
        self.stderr.write(printable(self.scrub(question), one_line=True))
        self.stderr.flush()

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
        with console.status(Text(printable(self.scrub(message), one_line=True))) as status:
            yield _PlainStatus(status, self)

    # -- --verbose HTTP trace -------------------------------------------------------------------

    def trace(self, exchange: Exchange) -> None:
        """One exchange on stderr. Always redacted, `--debug` or not: the trace is what ends up
        in CI logs, and what it shows is the environment's credentials at work."""
        if not self.verbose:
            return
        outcome = (
            f"{exchange.status}" if exchange.status is not None else f"failed: {exchange.error}"
        )
        retry = f", retrying in {exchange.retry_in:.1f} s" if exchange.retry_in is not None else ""
        attempt = f" (attempt {exchange.attempt + 1})" if exchange.attempt else ""
        from .scalekit.secrets import mask_url_params

        # A credential in the query (`?access_token=`, `?key=`) is masked by its name: the
        # registry only knows the values sk itself was given.
        self._trace_line(
            f"* {exchange.method} {mask_url_params(str(exchange.url))}{attempt} → {outcome} "
            f"in {exchange.elapsed * 1000:.0f} ms{retry}"
        )
        authorization = exchange.request_headers.get("authorization")
        if authorization:
            from .scalekit.secrets import mask

            scheme, _, credential = authorization.partition(" ")
            self._trace_line(f"  > authorization: {scheme} {mask(credential)}")
        printed = self.bodies_printed_under is not None and urlsplit(
            str(exchange.url)
        ).path.startswith(self.bodies_printed_under)
        for label, body in (
            ("request", exchange.request_body),
            ("response", exchange.response_body),
        ):
            if not body:
                continue
            if label == "response" and printed:
                self._trace_line(f"  < ({len(body)} bytes: the command's output)")
            else:
                self._trace_line(f"  {'>' if label == 'request' else '<'} {self._trace_body(body)}")

    def _trace_line(self, text: str) -> None:
        self.stderr.write(self.secrets.scrub(printable(text)) + "\n")
        self.stderr.flush()

    def _trace_body(self, body: bytes) -> str:
        from .scalekit.models import load_json
        from .scalekit.secrets import inspect_answer

        # Secrets by what and where they are, whatever parser succeeds below (a body nested
        # beyond load_json's bound is printed as text).
        inspection = inspect_answer(body, ())
        for secret in inspection.secrets:
            self.secrets.add(secret)
        if not inspection.complete:
            return f"[{len(body)} bytes not shown: they could not be checked for secrets whole]"
        try:
            document = load_json(body)
        except (ValueError, UnicodeDecodeError):  # too deep, too
            text = body.decode("utf-8", "replace")
            # Form bodies (the token exchange) carry the client secret by name.
            if "client_secret=" in text:
                from urllib.parse import parse_qsl, urlencode

                fields = dict(parse_qsl(text))
                text = urlencode(redact_document(fields))  # type: ignore[arg-type]
        else:
            self.secrets.add_from(document)
            text = json_text(redact_document(document), indent=None)
        if len(text) > _TRACE_BODY_LIMIT:
            text = text[:_TRACE_BODY_LIMIT] + f"… ({len(text)} characters)"
        return text
