"""Writing `sk mcp serve` into an MCP client's configuration file, and taking it out again.

A plain module: it edits files and imports no MCP SDK. Each client's file, key and entry
shape are the ones its own documentation gives:

- claude-code: `~/.claude.json` (`$CLAUDE_CONFIG_DIR/.claude.json` when that is set), key
  `mcpServers` (its user scope: what `claude mcp add --scope user` writes);
- claude-desktop: `claude_desktop_config.json` in the platform's application-support
  directory, key `mcpServers`;
- cursor: `~/.cursor/mcp.json` (global), key `mcpServers`;
- vscode: the workspace's `.vscode/mcp.json` (JSONC), key `servers`.

Every path is treated as hostile: a symbolic link, a directory, a FIFO, a file too large or
not a JSON object is refused with one reason and left as it was. The previous file is kept
as `FILE.bak`; the new one replaces it atomically (a temporary file in the same directory,
fsynced, renamed over it). Nothing secret is ever written: the entry names a stored profile,
or relies on the environment the client starts `sk` with.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CliError, ExitCode
from . import jsonc

DEFAULT_NAME = "scalekit"
# ~/.claude.json grows with history; anything past this is not a configuration file.
MAX_CONFIG_BYTES = 64 * 1024 * 1024
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
CREDENTIAL_VARIABLES = ("SCALEKIT_ENV_URL", "SCALEKIT_CLIENT_ID", "SCALEKIT_CLIENT_SECRET")


@dataclass(frozen=True)
class Client:
    name: str
    title: str
    key: str  # the top-level member holding the servers
    comments: bool  # JSONC: comments and trailing commas allowed
    typed: bool  # the entry carries "type": "stdio"
    empty_env: bool = False  # the entry carries "env": {} (what `claude mcp add` writes)
    # Started from the desktop, not from the user's shell: it does not see the variables
    # exported there, so a stored profile is preferred to the environment.
    desktop: bool = False


CLIENTS: dict[str, Client] = {
    "claude-code": Client("claude-code", "Claude Code", "mcpServers", False, True, True),
    "claude-desktop": Client(
        "claude-desktop", "Claude Desktop", "mcpServers", False, False, desktop=True
    ),
    "cursor": Client("cursor", "Cursor", "mcpServers", False, False),
    "vscode": Client("vscode", "VS Code", "servers", True, True),
}


def client_named(name: str) -> Client:
    client = CLIENTS.get(name)
    if client is None:
        raise CliError(
            f"unknown client {name!r}; choose one of: {', '.join(CLIENTS)}", ExitCode.USAGE
        )
    return client


def validate_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise CliError(
            f"--name {name!r} must be 1-64 letters, digits, '.', '_' or '-' "
            "(starting with a letter or digit)",
            ExitCode.USAGE,
        )
    return name


# --- where each client keeps its file ---------------------------------------------------


@dataclass(frozen=True)
class ConfigLocation:
    path: Path
    base: Path  # the directory the client's path is rooted in: no link is followed below it


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME") or environ.get("USERPROFILE")
    return Path(home) if home else Path.home()


def config_location(
    client: Client,
    environ: Mapping[str, str],
    *,
    workspace: Path | None = None,
    platform: str = sys.platform,
) -> ConfigLocation:
    """The file `client` reads its MCP servers from, as its documentation places it (HOME,
    APPDATA and XDG_CONFIG_HOME are read from `environ`, as the clients themselves do)."""
    home = _home(environ)
    if client.name == "claude-code":
        # CLAUDE_CONFIG_DIR moves Claude Code's whole configuration, .claude.json included.
        moved = environ.get("CLAUDE_CONFIG_DIR")
        if moved and Path(moved).is_absolute():
            return ConfigLocation(Path(moved) / ".claude.json", Path(moved))
        return ConfigLocation(home / ".claude.json", home)
    if client.name == "cursor":
        return ConfigLocation(home / ".cursor" / "mcp.json", home)
    if client.name == "vscode":
        root = (workspace or Path.cwd()).absolute()
        return ConfigLocation(root / ".vscode" / "mcp.json", root)
    name = "claude_desktop_config.json"
    if platform == "darwin":
        base = home / "Library" / "Application Support"
    elif platform == "win32":
        appdata = environ.get("APPDATA")
        base = Path(appdata) if appdata else home / "AppData" / "Roaming"
    else:
        xdg = environ.get("XDG_CONFIG_HOME")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".config"
    return ConfigLocation(base / "Claude" / name, base)


# --- what the entry runs ----------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """How the installed server will find its credentials — never the credentials."""

    kind: str  # "sandbox", "profile" or "environment"
    root_args: tuple[str, ...]  # root options of `sk` before `mcp serve`
    profile: str | None = None


def credential_reference(
    *, sandbox: bool, profile: str | None, environ: Mapping[str, str], desktop: bool = False
) -> Credentials:
    """Which stored profile, or which environment variables, the entry relies on; exit 5 when
    there is neither (`sk login` first). A `.env` file does not count: the client starts `sk`
    in a directory of its own, where this one's `.env` is not. For a `desktop` client, a
    working stored profile of the same environment and client wins over the variables."""
    from ..config import ENV_URL_VARIABLES, SANDBOX, normalize_env_url
    from ..profiles import DEFAULT_PROFILE, load_profiles, validate_profile_name

    env_url = next((environ[n] for n in ENV_URL_VARIABLES if environ.get(n, "").strip()), "")
    if sandbox or env_url.strip().lower() == SANDBOX:
        return Credentials("sandbox", ("--sandbox",))
    named = profile or environ.get("SK_PROFILE", "").strip() or None
    stored = load_profiles()
    if named is not None:
        named = validate_profile_name(named)
        if named not in stored:
            raise CliError(
                f"no stored profile {named!r}; run sk login --profile {named} first",
                ExitCode.CONFIG,
            )
        return Credentials("profile", ("--profile", named), named)
    if env_url and all(environ.get(n, "").strip() for n in CREDENTIAL_VARIABLES[1:]):
        url = normalize_env_url(env_url)  # a URL sk would refuse is refused now, not at start-up
        if desktop:
            found = _working_profile(stored, url, environ[CREDENTIAL_VARIABLES[1]].strip())
            if found is not None:
                return Credentials("profile", ("--profile", found), found)
        return Credentials("environment", ())
    if DEFAULT_PROFILE in stored:
        return Credentials("profile", ("--profile", DEFAULT_PROFILE), DEFAULT_PROFILE)
    raise CliError(
        "no stored profile and no SCALEKIT_ENV_URL, SCALEKIT_CLIENT_ID and "
        "SCALEKIT_CLIENT_SECRET in the environment; run sk login first "
        "(the client's file never holds a secret)",
        ExitCode.CONFIG,
    )


def _working_profile(stored: Mapping[str, Any], env_url: str, client_id: str) -> str | None:
    """A stored profile for this environment and client whose secret can be read (the
    default one first), or None."""
    from ..config import normalize_env_url
    from ..profiles import DEFAULT_PROFILE, read_secret

    names = sorted(stored, key=lambda name: (name != DEFAULT_PROFILE, name))
    for name in names:
        profile = stored[name]
        try:
            same = normalize_env_url(profile.env_url) == env_url and profile.client_id == client_id
            if same and read_secret(name):
                return str(name)
        except CliError:  # an unusable URL or keyring: that profile does not work
            continue
    return None


def sk_command(argv0: str | None = None, executable: str | None = None) -> str:
    """The absolute path of this `sk`: the script this process was started as, else the
    console script installed beside this Python."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    if argv0 and Path(argv0).name in ("sk", "sk.exe") and Path(argv0).is_file():
        return os.path.abspath(argv0)
    folder = Path(executable or sys.executable).parent
    for name in ("sk", "sk.exe"):
        if (folder / name).is_file():
            return str(folder / name)
    raise CliError(
        "cannot find the sk executable to configure; run the installed sk (not python -m)",
        ExitCode.CONFIG,
    )


def server_entry(
    client: Client,
    command: str,
    credentials: Credentials,
    user: str,
    connectors: list[str],
) -> dict[str, Any]:
    args = [*credentials.root_args, "mcp", "serve", "--user", user]
    for connector in connectors:
        args += ["--connector", connector]
    entry: dict[str, Any] = {}
    if client.typed:
        entry["type"] = "stdio"
    entry["command"] = command
    entry["args"] = args
    if client.empty_env:
        entry["env"] = {}
    return entry


# --- reading and writing the file -------------------------------------------------------


@dataclass
class ConfigFile:
    location: ConfigLocation
    text: str | None  # None: absent
    bom: str = ""
    mode: int | None = None
    identity: tuple[int, int, int, int] | None = None  # (device, inode, size, mtime_ns)

    @property
    def path(self) -> Path:
        return self.location.path


def _refuse(path: Path, why: str) -> CliError:
    return CliError(f"{path}: {why}; left as it was", ExitCode.CONFIG)


def _check_no_links(location: ConfigLocation) -> None:
    """No symbolic link between the client's base directory and the file: a workspace's
    `.vscode` pointing elsewhere must not make `sk` write there."""
    base = location.base
    try:
        relative = location.path.relative_to(base)
    except ValueError:
        relative = Path(location.path.name)
        base = location.path.parent
    current = base
    for part in relative.parts:
        current = current / part
        try:
            info = current.lstat()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _refuse(current, f"cannot be read ({exc.strerror})") from None
        if stat.S_ISLNK(info.st_mode):
            raise _refuse(current, "is a symbolic link; sk does not write through links")


def read_config(location: ConfigLocation) -> ConfigFile:
    _check_no_links(location)
    path = location.path
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
    except FileNotFoundError:
        return ConfigFile(location, None)
    except OSError as exc:
        raise _refuse(path, f"cannot be read ({exc.strerror})") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(path, "is not a regular file")
        if info.st_size > MAX_CONFIG_BYTES:
            raise _refuse(path, f"is larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB")
        with os.fdopen(os.dup(descriptor), "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise _refuse(path, f"cannot be read ({exc.strerror})") from None
    finally:
        os.close(descriptor)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse(path, "is not UTF-8 text") from None
    bom = ""
    if text.startswith("\ufeff"):
        bom, text = "\ufeff", text[1:]
    identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    return ConfigFile(location, text, bom, stat.S_IMODE(info.st_mode), identity)


def _parse(config: ConfigFile, client: Client) -> jsonc.Parsed | None:
    if config.text is None or config.text.strip() == "":
        return None
    try:
        parsed = jsonc.parse(config.text, comments=client.comments)
    except jsonc.JsoncError as exc:
        kind = "JSON with comments" if client.comments else "JSON"
        raise _refuse(config.path, f"is not valid {kind} ({exc})") from None
    if not isinstance(parsed.value, dict):
        raise _refuse(config.path, "does not hold a JSON object")
    servers = parsed.value.get(client.key)
    if servers is not None and not isinstance(servers, dict):
        raise _refuse(config.path, f"its {client.key!r} is not an object")
    return parsed


def _servers_span(parsed: jsonc.Parsed, client: Client) -> jsonc.ObjectSpan | None:
    root = parsed.root
    assert root is not None
    member = root.member(client.key)
    return parsed.objects.get(member.value_start) if member is not None else None


@dataclass
class Change:
    config: ConfigFile
    new_text: str | None  # None: nothing to change
    replaced: bool = False  # an entry of that name was there before

    @property
    def changed(self) -> bool:
        return self.new_text is not None and self.new_text != (self.config.text or "")


def _checked(new_text: str, client: Client, expected: dict[str, Any], config: ConfigFile) -> str:
    """The edit must read back as exactly the intended document, or nothing is written."""
    try:
        reread = jsonc.parse(new_text, comments=client.comments).value
    except jsonc.JsoncError:
        reread = None
    if reread != expected:
        raise _refuse(config.path, "its layout could not be edited safely")
    return new_text


def plan_install(config: ConfigFile, client: Client, name: str, entry: dict[str, Any]) -> Change:
    parsed = _parse(config, client)
    if parsed is None:
        layout = jsonc.Layout(newline="\r\n" if "\r\n" in (config.text or "") else "\n")
        document = {client.key: {name: entry}}
        return Change(config, layout.render(document, "") + layout.newline)
    text = config.text or ""
    layout = jsonc.Layout.of(text, parsed)
    expected = dict(parsed.value)
    servers = dict(expected.get(client.key) or {})
    replaced = name in servers
    if servers.get(name) == entry:
        return Change(config, None, replaced=True)
    servers[name] = entry
    expected[client.key] = servers
    span = _servers_span(parsed, client)
    root = parsed.root
    assert root is not None
    if span is None:
        new_text = jsonc.set_member(
            text, root, client.key, {name: entry}, layout, comments=client.comments
        )
    else:
        new_text = jsonc.set_member(text, span, name, entry, layout, comments=client.comments)
    return Change(config, _checked(new_text, client, expected, config), replaced=replaced)


def plan_uninstall(config: ConfigFile, client: Client, name: str) -> Change:
    parsed = _parse(config, client)
    if parsed is None:
        return Change(config, None)
    span = _servers_span(parsed, client)
    if span is None or span.member(name) is None:
        return Change(config, None)
    expected = dict(parsed.value)
    servers = dict(expected[client.key])
    del servers[name]
    expected[client.key] = servers
    new_text = jsonc.remove_member(config.text or "", span, name)
    return Change(config, _checked(new_text, client, expected, config), replaced=True)


def unified_diff(change: Change, *, old: str | None = None, new: str | None = None) -> str:
    """The change as diff(1) writes it; `old` and `new` stand in for the two texts."""
    old = old if old is not None else (change.config.text or "")
    if new is None:
        new = change.new_text if change.new_text is not None else old
    path = str(change.config.path)
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=path if change.config.text is not None else "/dev/null",
        tofile=path,
    )
    # As diff(1) writes it: a last line without a newline is marked, so `patch` keeps it so.
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


# Names whose values are credentials (a member's key, a header, a flag, an environment
# variable) are told by `is_secret_name`, the definition every output of sk shares.
# Short flags whose next argument is, by wide convention, a password (`mysql -p`, `redis-cli -a`).
_PASSWORD_FLAGS = frozenset({"-p", "-P", "-a"})
# Values that are credentials whatever they are called: an authorization scheme, a vendor's
# key prefix, or a long run of letters and digits with no spaces and no path or URL shape.
_SECRET_VALUE = re.compile(
    r"(?:bearer|basic|token)\s+\S"
    r"|(?:sk|pk|rk)[-_][A-Za-z0-9_-]{8,}|gh[pousr]_|github_pat_|glpat-|xox[abpr]-"
    r"|AKIA[0-9A-Z]{12}|AIza[0-9A-Za-z_-]{20}|ya29\.",
    re.IGNORECASE,
)
_OPAQUE = re.compile(r"[A-Za-z0-9+/=_.~-]{16,}")
# `NAME=VALUE` and `--NAME=VALUE` (an argument, a header line): the value when NAME says secret.
_ASSIGNMENT = re.compile(r"^(-{0,2}[A-Za-z0-9_.-]+[=:]\s*)(.+)$")
# A URL's user information (`scheme://user:password@host`).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/@:\s]*:)([^/@\s]+)(@)")
MASK = "…[redacted]"


def _looks_secret(value: str) -> bool:
    text = value.strip()
    if _SECRET_VALUE.match(text):
        return True
    return bool(
        _OPAQUE.fullmatch(text)
        and re.search(r"[A-Za-z]", text)
        and re.search(r"[0-9]", text)
        and not text.startswith(("/", ".", "~", "@"))
    )


def _masked_value(
    value: str, path: tuple[str | int, ...], previous: str | None, own: bool
) -> str | None:
    """`value` with what is secret in it masked; None when nothing is."""
    if own:
        return None
    # The key of the member holding this value, and every key above it.
    from ..scalekit.secrets import is_secret_name, mask_url_params

    if any(isinstance(key, str) and is_secret_name(key) for key in path):
        return MASK
    if previous is not None and previous.startswith("-") and is_secret_name(previous):
        return MASK  # `--api-key VALUE`: the argument after a secret-looking flag
    if previous in _PASSWORD_FLAGS and not value.startswith("-"):
        return MASK  # `-p VALUE`
    if value.startswith("-p") and len(value) > 2 and len(path) >= 2 and path[-2] == "args":
        return "-p" + MASK  # `-pVALUE`, as mysql spells it
    # URL passwords and credential query parameters (`?api_key=`, `?token=`, `?key=`).
    masked = mask_url_params(_USERINFO.sub(rf"\1{MASK}\3", value), lambda _: MASK)
    assignment = _ASSIGNMENT.match(masked)
    if assignment and (
        is_secret_name(assignment.group(1).rstrip("=: ")) or _looks_secret(assignment.group(2))
    ):
        masked = assignment.group(1) + MASK  # `--api-key=VALUE`: the name stays readable
    elif any(key in ("env", "headers", "args") for key in path) and _looks_secret(masked):
        masked = MASK
    return masked if masked != value else None


def masked_text(text: str, client: Client, name: str) -> str:
    """The file's text with every secret of the user's other servers masked, found from the
    parsed document (not line by line): values of secret-looking keys wherever they sit,
    secret-looking strings under env, headers and args, the argument after a secret-looking
    flag, `NAME=VALUE` with a secret NAME, and URL passwords. `name`'s entry is sk's own."""
    if not text.strip():
        return text
    try:
        parsed = jsonc.parse(text, comments=client.comments)
    except jsonc.JsoncError:
        return text  # never shown: sk refuses to edit a file it cannot parse
    pieces: list[str] = []
    cursor = 0
    previous: dict[tuple[str | int, ...], str] = {}  # the array item before, by array path
    for string in parsed.strings:
        path = string.path
        own = len(path) >= 2 and path[0] == client.key and path[1] == name
        before = None
        if path and isinstance(path[-1], int) and path[-1] > 0:
            before = previous.get(path[:-1])
        if path and isinstance(path[-1], int):
            previous[path[:-1]] = string.value
        # A server's name is a label its user chose, not a key that says what a value is.
        keys = path[:1] + path[2:] if path[:1] == (client.key,) else path
        masked = _masked_value(string.value, keys, before, own)
        if masked is None:
            continue
        pieces.append(text[cursor : string.start])
        pieces.append(json.dumps(masked, ensure_ascii=False))
        cursor = string.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def redacted_diff(change: Change, client: Client, name: str) -> str:
    """The change as a unified diff in which no other server's secret shows: both sides are
    masked from their parsed structure, then compared."""
    old = change.config.text
    new = change.new_text if change.new_text is not None else old
    return unified_diff(
        change,
        old=masked_text(old, client, name) if old is not None else None,
        new=masked_text(new or "", client, name),
    )


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + ".bak")


def apply(change: Change) -> Path | None:
    """Write the change; returns the backup's path (None when there was no previous file)."""
    config = change.config
    assert change.new_text is not None
    path = config.path
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _check_no_links(config.location)
        current = read_config(config.location)
        if current.identity != config.identity or current.text != config.text:
            raise CliError(
                f"{path} changed while sk was editing it; run the command again",
                ExitCode.FAILURE,
            )
        backup = None
        mode = config.mode if config.mode is not None else 0o600
        if config.text is not None:
            backup = backup_path(path)
            _check_no_links(ConfigLocation(backup, config.location.base))
            _write_atomically(backup, (config.bom + config.text).encode("utf-8"), mode)
        _write_atomically(path, (config.bom + change.new_text).encode("utf-8"), mode)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}", ExitCode.CONFIG) from None
    return backup


def claude_add_command(name: str, entry: dict[str, Any]) -> str:
    """The `claude mcp add` command that makes the same user-scope entry."""
    from ..errors import shell_word

    words = ["claude", "mcp", "add", "--scope", "user", name, "--", entry["command"]]
    return " ".join(shell_word(word) for word in [*words, *entry["args"]])
