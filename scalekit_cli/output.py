"""The one place that knows about terminals: streams, TTYs, colour, `--json` and redaction.

Results go to stdout; progress, hints, warnings and errors to stderr. Every line written passes
through the secret registry unless `--debug` is set, so a token can only reach a stream when
the user asked for it. rich is imported only when a terminal will actually show its output.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from .scalekit.http import Exchange
from .scalekit.secrets import GLOBAL_SECRETS, SecretRegistry, redact_document

_TRACE_BODY_LIMIT = 2000


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

    @classmethod
    def from_system(
        cls, *, json_mode: bool = False, verbose: bool = False, debug: bool = False
    ) -> Output:
        stdout, stderr, stdin = sys.stdout, sys.stderr, sys.stdin
        stderr_tty = _is_tty(stderr)
        no_color = "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb"
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
        )

    # -- redaction ------------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        return text if self.debug else self.secrets.scrub(text)

    def reveal(self, secret: str) -> str:
        """A secret as the user may see it: whole under --debug, masked otherwise."""
        from .scalekit.secrets import mask

        self.secrets.add(secret)
        return secret if self.debug else mask(secret)

    def redact(self, document: Any) -> Any:
        return document if self.debug else redact_document(document)

    # -- stdout ---------------------------------------------------------------------------------

    def result(self, text: str) -> None:
        self.stdout.write(self.scrub(text) + "\n")
        self.stdout.flush()

    def json(self, document: Any) -> None:
        text = json.dumps(self.redact(document), indent=2, ensure_ascii=False)
        self.result(text)

    def pretty_json(self, document: Any) -> None:
        """JSON for a person: highlighted on a colour terminal, plain otherwise."""
        text = self.scrub(json.dumps(document, indent=2, ensure_ascii=False))
        if self.stdout_tty and self.color:
            from rich.console import Console
            from rich.syntax import Syntax

            Console(file=self.stdout).print(Syntax(text, "json", background_color="default"))
        else:
            self.result(text)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A rich table on a terminal; tab-separated lines (header first) in a pipe."""
        if self.stdout_tty:
            from rich.console import Console
            from rich.table import Table

            table = Table(*headers, header_style="bold" if self.color else "")
            for row in rows:
                table.add_row(*(self.scrub(cell) for cell in row))
            Console(file=self.stdout, no_color=not self.color, highlight=False).print(table)
            return
        self.result("\t".join(headers))
        for row in rows:
            self.result("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row))

    # -- stderr ---------------------------------------------------------------------------------

    def _err(self, text: str) -> None:
        self.stderr.write(self.scrub(text) + "\n")
        self.stderr.flush()

    def info(self, message: str) -> None:
        self._err(message)

    def success(self, message: str) -> None:
        self._err(f"{self._paint('✓', 'green')} {message}")

    def warn(self, message: str) -> None:
        self._err(f"{self._paint('!', 'yellow')} {message}")

    def error(self, message: str) -> None:
        self._err(f"sk: {message}")

    def detail(self, message: str) -> None:
        """Shown under --verbose only."""
        if self.verbose:
            self._err(f"  {message}")

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

        console = Console(file=self.stderr)
        with console.status(message) as status:
            yield status

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
