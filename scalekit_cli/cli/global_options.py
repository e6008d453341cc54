"""The global options — accepted before or after the sub-command, with the same meaning.

`sk --json status …`, `sk status --json …` and `sk status … --json` are one command line, as
with aws, kubectl and gh. The options are declared once, in GLOBAL_OPTIONS; `place` reads a
whole command line against the command tree (a `Shape` per command: which of its options
take a value, which sub-commands a group has) and takes every global option out of it,
wherever it stands, up to a `--`. A command that declares one of them itself (`--json` of
most commands, `--profile` of `sk login`, `--client-id` of `sk sandbox serve`) gets it back
on its own arguments; the others end in `GlobalValues`, which the root hands every command.

Typer-free: the Typer app (app.py) and `sk token`'s fast path (fastpath.py) share it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..config import Flags
from ..errors import CliError, ExitCode


# Plain classes rather than dataclasses: this module is on `sk token`'s fast path, and making
# a dataclass (its generated methods are compiled at import) costs ~0.3 ms each.
class GlobalOption:
    __slots__ = ("dest", "help", "metavar", "names")

    def __init__(
        self, names: tuple[str, ...], dest: str, help: str, metavar: str | None = None
    ) -> None:
        self.names = names  # the long name last
        self.dest = dest  # the GlobalValues attribute
        self.help = help
        self.metavar = metavar  # None: a flag

    @property
    def takes_value(self) -> bool:
        return self.metavar is not None


GLOBAL_OPTIONS: tuple[GlobalOption, ...] = (
    GlobalOption(
        ("--sandbox",), "sandbox", "Run against the local embedded sandbox (no credentials)."
    ),
    GlobalOption(
        ("--env-url",), "env_url", "Scalekit environment URL (else SCALEKIT_ENV_URL).", "URL"
    ),
    GlobalOption(("--client-id",), "client_id", "Client id (else SCALEKIT_CLIENT_ID).", "ID"),
    GlobalOption(
        ("--profile",),
        "profile",
        "Stored profile (sk login) to fall back on (else SK_PROFILE, else default).",
        "NAME",
    ),
    GlobalOption(("--json",), "json", "Print the result as JSON on stdout."),
    GlobalOption(("--debug",), "debug", "Reveal secrets (tokens) and trace HTTP with them."),
    GlobalOption(
        ("-v", "--verbose"), "verbose", "Trace each HTTP exchange on stderr, secrets redacted."
    ),
)
BY_NAME = {name: option for option in GLOBAL_OPTIONS for name in option.names}


class GlobalValues:
    """The global options of one command line that its command does not declare itself."""

    __slots__ = ("client_id", "debug", "env_url", "json", "profile", "sandbox", "verbose")

    def __init__(
        self,
        sandbox: bool = False,
        env_url: str | None = None,
        client_id: str | None = None,
        profile: str | None = None,
        json: bool = False,
        debug: bool = False,
        verbose: bool = False,
    ) -> None:
        self.sandbox = sandbox
        self.env_url = env_url
        self.client_id = client_id
        self.profile = profile
        self.json = json
        self.debug = debug
        self.verbose = verbose

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GlobalValues) and self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        given = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__ if getattr(self, n))
        return f"GlobalValues({given})"

    def flags(self) -> Flags:
        return Flags(
            sandbox=self.sandbox,
            env_url=self.env_url,
            client_id=self.client_id,
            profile=self.profile,
        )


class Shape:
    """What `place` needs to know of one command: its own options (flags and those that take a
    value), and for a group, its sub-commands by name."""

    __slots__ = ("flags", "subcommand", "values")

    def __init__(
        self,
        flags: frozenset[str] = frozenset(),
        values: frozenset[str] = frozenset(),
        subcommand: Callable[[str], Shape | None] | None = None,
    ) -> None:
        self.flags = flags
        self.values = values
        self.subcommand = subcommand

    def declares(self, option: GlobalOption) -> str | None:
        """The name under which this command declares the option itself, if it does."""
        return next((n for n in option.names if n in self.flags or n in self.values), None)


class Placement:
    __slots__ = ("args", "values")

    def __init__(self, args: list[str]) -> None:
        self.args = args  # the command line, every global option where it is handled
        self.values = GlobalValues()


def _split(token: str) -> tuple[str, str | None]:
    name, equals, inline = token.partition("=")
    return (name, inline) if equals and name.startswith("--") else (token, None)


def place(args: Sequence[str], root: Shape) -> Placement:
    """Take the global options out of `args`, wherever they stand before a `--`.

    A CliError (exit 2) when one that takes a value has none. Anything else that is wrong
    with the command line is left for the parser to report.
    """
    shape = root
    kept: list[str] = []
    taken: list[tuple[GlobalOption, str | None]] = []
    leaf_start = 0  # where the innermost command's own arguments begin in `kept`
    descend = True  # a group's first positional names its sub-command; later ones do not
    position = 0
    while position < len(args):
        token = args[position]
        position += 1
        if token == "--":
            kept += args[position - 1 :]
            break
        name, inline = _split(token)
        if name in shape.values:
            kept.append(token)
            if inline is None and position < len(args):
                kept.append(args[position])
                position += 1
            continue
        if name in shape.flags:
            kept.append(token)
            continue
        option = BY_NAME.get(name)
        if option is not None:
            if not option.takes_value:
                if inline is None:
                    taken.append((option, None))
                else:
                    kept.append(token)  # `--json=1`: the parser says a flag takes no value
                continue
            if inline is None:
                if position >= len(args):
                    raise CliError(
                        f"option {name} needs a value ({option.metavar})", ExitCode.USAGE
                    )
                inline = args[position]
                position += 1
            taken.append((option, inline))
            continue
        kept.append(token)
        if descend and not token.startswith("-") and shape.subcommand is not None:
            child = shape.subcommand(token)
            if child is None:
                descend = False
            else:
                shape = child
                leaf_start = len(kept)
    placement = Placement(kept)
    own: list[str] = []
    for option, value in taken:
        declared = shape.declares(option)
        if declared is not None:
            own += [declared] if value is None else [declared, value]
        else:
            setattr(placement.values, option.dest, True if value is None else value)
    placement.args[leaf_start:leaf_start] = own
    return placement
