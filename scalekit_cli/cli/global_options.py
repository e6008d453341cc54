"""The global options — accepted before or after the sub-command, with the same meaning.

`sk --json status …`, `sk status --json …` and `sk status … --json` are one command line, as
with aws, kubectl and gh. Each option is declared once, in GLOBAL_OPTIONS; `click_options`
turns a declaration into the `click.Option` that the root and every command and group of the
tree carry (cli/commands.py adds them to each command's parameters). Click parses them where
they stand, up to a `--`; the option's callback records the value in the root context's
object, a `GlobalValues`, and since the root is parsed before its sub-command, the last one
given counts. A command that declares one of them itself (`--json` of most commands,
`--profile` of `sk login`, `--client-id` of `sk sandbox serve`) takes it wherever it stood.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import click

from ..config import Flags


@dataclass(frozen=True)
class GlobalOption:
    names: tuple[str, ...]  # the long name last
    dest: str  # the GlobalValues attribute
    help: str
    metavar: str | None = None  # None: a flag

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
    GlobalOption(
        ("--debug",),
        "debug",
        "Reveal what the command itself outputs (the token, secret fields of --json); "
        "it turns on no trace.",
    ),
    GlobalOption(
        ("-v", "--verbose"), "verbose", "Trace each HTTP exchange on stderr, secrets redacted."
    ),
)


@dataclass
class GlobalValues:
    """The global options of one command line that its command does not declare itself."""

    sandbox: bool = False
    env_url: str | None = None
    client_id: str | None = None
    profile: str | None = None
    json: bool = False
    debug: bool = False
    verbose: bool = False

    def flags(self) -> Flags:
        return Flags(
            sandbox=self.sandbox,
            env_url=self.env_url,
            client_id=self.client_id,
            profile=self.profile,
        )

    def clear(self, dest: str) -> None:
        default = next(field.default for field in fields(self) if field.name == dest)
        setattr(self, dest, default)


def root_values(ctx: click.Context) -> GlobalValues:
    """The root context's GlobalValues, made on first use (the root is given none when a
    command is invoked other than through `SkGroup.main`, e.g. by Click's completion)."""
    root = ctx.find_root()
    if not isinstance(root.obj, GlobalValues):
        root.obj = GlobalValues()
    return root.obj


class GlobalClickOption(click.Option):
    """A global option as one command carries it: not a parameter of the command's function
    (`expose_value=False`); its value goes to the root's GlobalValues."""

    def __init__(self, option: GlobalOption) -> None:
        self.global_option = option
        super().__init__(
            # Its own name, so a command's parameter of the same spelling is never shadowed.
            [*option.names, f"global_{option.dest}"],
            is_flag=not option.takes_value,
            default=None if option.takes_value else False,
            metavar=option.metavar,
            help=option.help,
            expose_value=False,
            callback=self._record,
        )

    def _record(self, ctx: click.Context, param: click.Parameter, value: object) -> None:
        # Called with the default when the option is absent here: that must not overwrite a
        # value given at another level of the command line.
        if value is None or value is False:
            return
        setattr(root_values(ctx), self.global_option.dest, value)


def declared_names(command: click.Command) -> set[str]:
    """Every option name the command declares itself (not the global options it carries)."""
    return {
        name
        for param in command.params
        if isinstance(param, click.Option) and not isinstance(param, GlobalClickOption)
        for name in (*param.opts, *param.secondary_opts)
    }


def own_parameter(command: click.Command, option: GlobalOption) -> click.Option | None:
    """The command's own parameter spelled as the global option, if it declares one."""
    for param in command.params:
        own = isinstance(param, click.Option) and not isinstance(param, GlobalClickOption)
        if own and set(option.names) & {*param.opts, *param.secondary_opts}:
            return param
    return None


def click_options(command: click.Command) -> list[click.Option]:
    """The global options the command does not declare itself, as its Click options."""
    names = declared_names(command)
    return [GlobalClickOption(option) for option in GLOBAL_OPTIONS if not set(option.names) & names]


def take_for_own_parameters(command: click.Command, ctx: click.Context) -> None:
    """After the command's arguments are parsed: a global option the command declares itself,
    given at an outer level (`sk --profile p login`), is the command's own — as if given
    after it, unless it was given there too (the later one counts)."""
    values = root_values(ctx)
    for option in GLOBAL_OPTIONS:
        param = own_parameter(command, option)
        if param is None or param.name is None:
            continue
        outer = getattr(values, option.dest)
        given_here = ctx.get_parameter_source(param.name) not in (
            None,
            click.core.ParameterSource.DEFAULT,
        )
        if outer not in (None, False) and not given_here:
            ctx.params[param.name] = outer
        values.clear(option.dest)
