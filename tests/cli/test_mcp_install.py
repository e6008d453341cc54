"""`sk mcp install` / `sk mcp uninstall` against fixture configuration files of every client,
byte for byte: absent, empty, with other servers and settings, with comments where the
format allows (VS Code's JSONC), and hostile paths that must be left as they were.

Fixtures: `fixtures/mcp_install/CLIENT/CASE.before.json` is the file before (no file: the
`absent` case); `CASE.installed.json` the file after installing (`@SK@` stands for the
absolute path of sk); `CASE.uninstalled.json` the file after uninstalling again, when that
is not the `before` file itself.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scalekit_cli.cli.app import app
from scalekit_cli.mcp.install import CLIENTS, config_location
from scalekit_cli.profiles import Profile, save_profiles
from tests.cli.conftest import SK, SkResult, assert_no_leak, assert_one_error_line
from tests.conftest import CANARY_CLIENT_ID, CANARY_CLIENT_SECRET

FIXTURES = Path(__file__).parent / "fixtures" / "mcp_install"
SERVE = ["mcp", "serve", "--user", "user_123", "--connector", "gmail", "--connector", "slack"]
INSTALL_ARGS = ["--user", "user_123", "--connector", "gmail", "--connector", "slack"]
FOREIGN_SECRET = "lapras-canary-key-0d3f9a"  # another server's key in the cursor fixture


class Host:
    """One machine's clients, rooted in tmp_path: HOME, XDG_CONFIG_HOME and a workspace."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = tmp_path
        self.home = tmp_path / "home"
        self.workspace = tmp_path / "workspace"
        self.home.mkdir()
        self.workspace.mkdir()
        monkeypatch.chdir(self.workspace)
        for name in list(os.environ):
            if name.startswith(("SCALEKIT_", "SK_")) or name in (
                "XDG_CONFIG_HOME",
                "APPDATA",
                "CLAUDE_CONFIG_DIR",
            ):
                monkeypatch.delenv(name, raising=False)
        self.env = {
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
            "SK_CONFIG_DIR": str(tmp_path / "sk-config"),
            "SK_DATA_DIR": str(tmp_path / "sk-data"),
            "SK_CACHE_DIR": str(tmp_path / "sk-cache"),
        }
        monkeypatch.setenv("SK_CONFIG_DIR", self.env["SK_CONFIG_DIR"])

    def path(self, client: str) -> Path:
        return config_location(CLIENTS[client], self.env, workspace=self.workspace).path

    def sk(self, *args: str, env: dict[str, str] | None = None) -> SkResult:
        result = CliRunner().invoke(app, list(args), env={**self.env, **(env or {})})
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return SkResult(result.exit_code, result.stdout, result.stderr)

    def files(self) -> dict[str, bytes]:
        return {
            str(path.relative_to(self.root)): path.read_bytes()
            for path in sorted(self.root.rglob("*"))
            if path.is_file() and not path.is_symlink() and "sk-" not in path.parts[-2]
        }


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Host:
    return Host(tmp_path, monkeypatch)


def _cases() -> list[tuple[str, str]]:
    cases = []
    for client in sorted(CLIENTS):
        names = {
            p.name.removesuffix(".before.json") for p in (FIXTURES / client).glob("*.before.json")
        }
        cases += [(client, name) for name in sorted(names | {"absent"})]
    return cases


def _golden(client: str, name: str, stage: str) -> bytes | None:
    path = FIXTURES / client / f"{name}.{stage}.json"
    if not path.exists():
        return None
    escaped = json.dumps(str(SK))[1:-1]
    return path.read_bytes().replace(b"@SK@", escaped.encode())


def _apply_unified_diff(old: str, diff: str) -> str:
    """What `patch` would make of `old` with `diff` (the hunks in order)."""
    lines = old.splitlines(keepends=True)
    result: list[str] = []
    position = 0
    diff_lines = diff.splitlines(keepends=True)
    previous = ""
    assert diff_lines[0].startswith("--- ") and diff_lines[1].startswith("+++ "), diff
    for line in diff_lines[2:]:
        hunk = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", line)
        if hunk:
            start = int(hunk.group(1)) - (0 if hunk.group(2) == "0" else 1)
            result += lines[position:start]
            position = start
        elif line.startswith(" "):
            assert lines[position].rstrip("\r\n") == line[1:].rstrip("\r\n")
            result.append(lines[position])
            position += 1
        elif line.startswith("-"):
            assert lines[position].rstrip("\r\n") == line[1:].rstrip("\r\n")
            position += 1
        elif line.startswith("+"):
            result.append(line[1:])
        elif line.startswith("\\") and previous.startswith("+"):
            # "\ No newline at end of file": the line before it has none.
            result[-1] = result[-1].rstrip("\n")
        previous = line
    return "".join(result + lines[position:])


def _text(data: bytes | None) -> str:
    return "" if data is None else data.decode()


@pytest.mark.parametrize(("client", "case"), _cases())
def test_install_and_uninstall_byte_for_byte(host: Host, client: str, case: str) -> None:
    path = host.path(client)
    before = (FIXTURES / client / f"{case}.before.json").read_bytes() if case != "absent" else None
    if before is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(before)
    installed = _golden(client, case, "installed")
    assert installed is not None
    untouched = host.files()

    # --dry-run: the diff on stdout, nothing written anywhere (--debug: other servers' secret
    # values unmasked in its context lines, so it is a patch that applies).
    dry = host.sk("--sandbox", "mcp", "install", client, *INSTALL_ARGS, "--dry-run", "--debug")
    assert dry.exit_code == 0, dry.stderr
    assert host.files() == untouched
    # CRLF files: the diff is read line by line, as `patch` does
    rebuilt = _apply_unified_diff(_text(before).replace("\r\n", "\n"), dry.stdout)
    assert rebuilt == installed.decode().replace("\r\n", "\n")

    done = host.sk("--sandbox", "mcp", "install", client, *INSTALL_ARGS)
    assert done.exit_code == 0, done.stderr
    assert path.read_bytes() == installed
    backup = path.with_name(path.name + ".bak")
    if before is None:
        assert not backup.exists()
    else:
        assert backup.read_bytes() == before
    entry = json.loads(re.sub(rb"//[^\n]*|/\*.*?\*/|,(?=\s*[}\]])", b"", installed, flags=re.S))
    servers = entry["servers" if client == "vscode" else "mcpServers"]
    assert servers["scalekit"]["command"] == str(SK)
    assert servers["scalekit"]["args"] == ["--sandbox", *SERVE]
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]

    again = host.sk("--sandbox", "mcp", "install", client, *INSTALL_ARGS)
    assert again.exit_code == 0
    assert "nothing changed" in again.stderr
    assert path.read_bytes() == installed

    dry_remove = host.sk("mcp", "uninstall", client, "--dry-run", "--debug")
    assert dry_remove.exit_code == 0
    assert path.read_bytes() == installed
    removed = host.sk("mcp", "uninstall", client)
    assert removed.exit_code == 0, removed.stderr
    expected = _golden(client, case, "uninstalled")
    assert path.read_bytes() == (expected if expected is not None else before)
    assert _apply_unified_diff(installed.decode().replace("\r\n", "\n"), dry_remove.stdout) == (
        path.read_text().replace("\r\n", "\n")
    )

    nothing = host.sk("mcp", "uninstall", client)
    assert nothing.exit_code == 0
    assert "nothing to remove" in nothing.stderr


def test_uninstall_removes_only_its_own_entry(host: Host) -> None:
    path = host.path("cursor")
    path.parent.mkdir(parents=True)
    before = (FIXTURES / "cursor" / "others.before.json").read_bytes()
    path.write_bytes(before)
    for name in ("work", "home"):
        assert (
            host.sk("--sandbox", "mcp", "install", "cursor", "-u", name, "--name", name).exit_code
            == 0
        )
    assert host.sk("mcp", "uninstall", "cursor", "--name", "work").exit_code == 0
    servers = json.loads(path.read_text())["mcpServers"]
    assert list(servers) == ["playwright", "lapras", "home"]
    assert servers["home"]["args"] == ["--sandbox", "mcp", "serve", "--user", "home"]
    assert host.sk("mcp", "uninstall", "cursor", "--name", "home").exit_code == 0
    assert path.read_bytes() == before


def test_a_changed_entry_is_replaced_in_place(host: Host) -> None:
    path = host.path("vscode")
    path.parent.mkdir(parents=True)
    path.write_bytes((FIXTURES / "vscode" / "comments.before.json").read_bytes())
    assert host.sk("--sandbox", "mcp", "install", "vscode", "-u", "first").exit_code == 0
    first = path.read_bytes().decode()
    result = host.sk(
        "--sandbox", "mcp", "install", "vscode", "-u", "second", "--connector", "notion"
    )
    assert result.exit_code == 0
    assert "Updated" in result.stderr
    text = path.read_bytes().decode()
    assert text.count('"scalekit"') == 1
    assert (
        text.replace('"second",\r\n\t\t\t\t"--connector",\r\n\t\t\t\t"notion"', '"first"') == first
    )


def test_the_entry_refers_to_a_profile_and_never_holds_a_secret(host: Host) -> None:
    save_profiles({"work": Profile("work", "https://acme.scalekit.dev", CANARY_CLIENT_ID)})
    result = host.sk("--profile", "work", "mcp", "install", "cursor", "-u", "ana", "--json")
    assert result.exit_code == 0, result.stderr
    entry = json.loads(host.path("cursor").read_text())["mcpServers"]["scalekit"]
    assert entry == {
        "command": str(SK),
        "args": ["--profile", "work", "mcp", "serve", "--user", "ana"],
    }
    assert json.loads(result.stdout)["entry"] == entry
    # SK_PROFILE names it too.
    result = host.sk("mcp", "install", "claude-code", "-u", "ana", env={"SK_PROFILE": "work"})
    assert result.exit_code == 0, result.stderr
    args = json.loads(host.path("claude-code").read_text())["mcpServers"]["scalekit"]["args"]
    assert args[:2] == ["--profile", "work"]
    assert "claude mcp add --scope user scalekit -- " in result.stderr


def test_environment_credentials_stay_in_the_environment(host: Host) -> None:
    env = {
        "SCALEKIT_ENV_URL": "https://tenant-9f3k.example.dev",
        "SCALEKIT_CLIENT_ID": CANARY_CLIENT_ID,
        "SCALEKIT_CLIENT_SECRET": CANARY_CLIENT_SECRET,
    }
    result = host.sk("mcp", "install", "claude-desktop", "-u", "ana", env=env)
    assert result.exit_code == 0, result.stderr
    written = host.path("claude-desktop").read_text()
    assert json.loads(written)["mcpServers"]["scalekit"]["args"] == [
        "mcp",
        "serve",
        "--user",
        "ana",
    ]
    assert "SCALEKIT_CLIENT_SECRET in its environment" in result.stderr
    assert_no_leak(result, CANARY_CLIENT_SECRET)
    assert_no_leak(written, CANARY_CLIENT_SECRET, "tenant-9f3k.example.dev")
    # A URL serve would refuse is refused now.
    plain = host.sk(
        "mcp", "install", "cursor", "-u", "ana", env={**env, "SCALEKIT_ENV_URL": "http://a.example"}
    )
    assert plain.exit_code == 5
    assert "plain http://" in assert_one_error_line(plain)
    assert not host.path("cursor").exists()


DESKTOP_ENV = {
    "SCALEKIT_ENV_URL": "https://tenant-9f3k.example.dev",
    "SCALEKIT_CLIENT_ID": CANARY_CLIENT_ID,
    "SCALEKIT_CLIENT_SECRET": CANARY_CLIENT_SECRET,
}


@pytest.fixture
def keyring_file(host: Host, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """keyrings.alt's file backend, chosen explicitly, storing under the host's root."""
    env = {
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "XDG_DATA_HOME": str(host.root / "xdg-data"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _desktop_install(host: Host, env: dict[str, str], *extra: str) -> tuple[SkResult, SkResult]:
    """`--dry-run`, then the real run, of installing into Claude Desktop."""
    command = ("mcp", "install", "claude-desktop", "-u", "ana", *extra)
    return host.sk(*command, "--dry-run", env=env), host.sk(*command, env=env)


def test_a_desktop_host_uses_a_working_stored_profile(host: Host, keyring_file) -> None:
    """Claude Desktop does not inherit the shell's variables: the entry names the stored
    profile of the same environment and client (the variables alone made it fail)."""
    from scalekit_cli.profiles import store_secret

    save_profiles(
        {
            "default": Profile("default", "https://other.example.dev", CANARY_CLIENT_ID),
            "work": Profile("work", DESKTOP_ENV["SCALEKIT_ENV_URL"], CANARY_CLIENT_ID),
        }
    )
    store_secret("default", "another-secret-4Kq")
    store_secret("work", CANARY_CLIENT_SECRET)
    dry, real = _desktop_install(host, {**keyring_file, **DESKTOP_ENV})
    assert dry.exit_code == 0 and real.exit_code == 0, real.stderr
    args = json.loads(host.path("claude-desktop").read_text())["mcpServers"]["scalekit"]["args"]
    assert args == ["--profile", "work", "mcp", "serve", "--user", "ana"]
    assert '+        "--profile",' in dry.stdout and '+        "work",' in dry.stdout
    assert "in its environment" not in dry.stderr + real.stderr
    assert_no_leak(dry, CANARY_CLIENT_SECRET)
    assert_no_leak(real, CANARY_CLIENT_SECRET)


def test_a_desktop_host_without_a_working_profile_is_warned_alike(host: Host, keyring_file) -> None:
    # Stored, but its secret is not in the keyring: it would not work.
    save_profiles({"work": Profile("work", DESKTOP_ENV["SCALEKIT_ENV_URL"], CANARY_CLIENT_ID)})
    dry, real = _desktop_install(host, {**keyring_file, **DESKTOP_ENV})
    assert dry.exit_code == 0 and real.exit_code == 0, real.stderr
    args = json.loads(host.path("claude-desktop").read_text())["mcpServers"]["scalekit"]["args"]
    assert args == ["mcp", "serve", "--user", "ana"]
    [warning] = [line for line in real.stderr.splitlines() if "in its environment" in line]
    assert "does not see the variables of your shell" in warning
    # --dry-run warns the same way as the real run.
    assert warning in dry.stderr.splitlines()
    assert_no_leak(dry, CANARY_CLIENT_SECRET)
    assert_no_leak(real, CANARY_CLIENT_SECRET)


@pytest.mark.parametrize("command", ["install", "uninstall"])
def test_a_missing_workspace_is_a_usage_error_and_is_not_created(host: Host, command: str) -> None:
    missing = host.root / "no-such-workspace"
    user = ["-u", "ana"] if command == "install" else []
    result = host.sk("--sandbox", "mcp", command, "vscode", *user, "--workspace", str(missing))
    assert result.exit_code == 2, result.streams
    assert "--workspace" in assert_one_error_line(result)
    assert not missing.exists()


def test_without_credentials_install_says_to_log_in_and_writes_nothing(host: Host) -> None:
    result = host.sk("mcp", "install", "cursor", "-u", "ana")
    assert result.exit_code == 5
    assert "run sk login first" in assert_one_error_line(result)
    assert not host.path("cursor").exists()
    missing = host.sk("--profile", "nope", "mcp", "install", "cursor", "-u", "ana")
    assert missing.exit_code == 5
    assert "sk login --profile nope" in assert_one_error_line(missing)


def test_dry_run_masks_other_servers_secrets(host: Host) -> None:
    path = host.path("cursor")
    path.parent.mkdir(parents=True)
    path.write_bytes((FIXTURES / "cursor" / "others.before.json").read_bytes())
    result = host.sk("--sandbox", "mcp", "install", "cursor", "-u", "ana", "--dry-run")
    assert result.exit_code == 0
    assert '"LAPRAS_API_KEY": "…[redacted]"' in result.stdout
    assert_no_leak(result, FOREIGN_SECRET)


SECRET_FIXTURES = Path(__file__).parent / "fixtures" / "mcp_install_secrets"
# What must still show in each fixture's masked context: names and harmless values.
STILL_SHOWN = {
    "next-line": ['          "…[redacted]",', '"LOG_LEVEL": "debug"'],
    "url-password": ["postgres://admin:…[redacted]@db.example:5432/app", "@mcp.example/sse"],
    "args-token": ['"--token", "…[redacted]", "--api-key=…[redacted]", "…[redacted]"]'],
    "nested": ['"globalShortcut": "Ctrl+Space"'],
    "comments": ['"GITHUB_TOKEN": /* from the vault */ "…[redacted]"'],
    # Credential query parameters go, the other parameters stay.
    "url-query": [
        "https://mcp.example/sse?api_key=…[redacted]&region=eu&token=…[redacted]",
        "https://maps.example/v1?key=…[redacted]&lang=en",
    ],
    # The value after a short password flag, and mysql's `-pVALUE`; other flags' values stay.
    "short-flag": ['"-u", "admin", "-p", "…[redacted]", "-h", "db.local"', '"-p…[redacted]"'],
}


@pytest.mark.parametrize(
    "fixture", sorted(SECRET_FIXTURES.glob("*/*.json")), ids=lambda path: path.stem
)
def test_dry_run_shows_no_secret_of_another_server(host: Host, fixture: Path) -> None:
    """Masked from the parsed file: a value on the line after its key, a URL's password, a
    token in args, values under a secret-looking key; every canary of the fixture."""
    client = fixture.parent.name
    text = fixture.read_text()
    canaries = sorted(set(re.findall(r"[\w.-]*canary[\w.-]*", text)))
    assert canaries
    path = host.path(client)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    result = host.sk("--sandbox", "mcp", "install", client, "-u", "ana", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert '"--sandbox",' in result.stdout or '"--sandbox"' in result.stdout
    for shown in STILL_SHOWN[fixture.stem]:
        assert shown in result.stdout, result.stdout
    assert_no_leak(result, *canaries)
    assert path.read_text() == text  # nothing written
    # --debug shows the file as it is.
    revealed = host.sk("--sandbox", "mcp", "install", client, "-u", "ana", "--dry-run", "--debug")
    assert canaries[0] in revealed.stdout


def _hostile_setups() -> dict[str, object]:
    def not_json(path: Path) -> None:
        path.write_text('{"mcpServers": {"a": 1},,}\n')

    def array(path: Path) -> None:
        path.write_text('[{"mcpServers": {}}]\n')

    def servers_not_object(path: Path) -> None:
        path.write_text('{"mcpServers": ["x"]}\n')

    def comments_in_strict_json(path: Path) -> None:
        path.write_text('{\n  // cursor reads plain JSON\n  "mcpServers": {}\n}\n')

    def not_utf8(path: Path) -> None:
        path.write_bytes(b'{"mcpServers": {"\xff": {}}}')

    def directory(path: Path) -> None:
        path.mkdir()

    def fifo(path: Path) -> None:
        os.mkfifo(path)

    def symlink(path: Path) -> None:
        target = path.parent.parent / "elsewhere.json"
        target.write_text('{"mcpServers": {}}\n')
        path.symlink_to(target)

    def linked_directory(path: Path) -> None:
        real = path.parent.parent / "real-dir"
        real.mkdir()
        path.parent.rmdir()
        path.parent.symlink_to(real)

    def too_deep(path: Path) -> None:
        path.write_text('{"x": ' + "[" * 1000 + "]" * 1000 + "}")

    return {
        "not JSON": not_json,
        "an array": array,
        "servers not an object": servers_not_object,
        "comments in strict JSON": comments_in_strict_json,
        "not UTF-8": not_utf8,
        "a directory": directory,
        "a FIFO": fifo,
        "a symbolic link": symlink,
        "a linked directory": linked_directory,
        "nested too deep": too_deep,
    }


@pytest.mark.parametrize("setup", sorted(_hostile_setups()))
@pytest.mark.parametrize("command", ["install", "uninstall"])
def test_hostile_files_are_refused_and_left_alone(host: Host, setup: str, command: str) -> None:
    path = host.path("cursor")
    path.parent.mkdir(parents=True)
    _hostile_setups()[setup](path)  # type: ignore[operator]
    before = host.files()
    args = ["-u", "ana"] if command == "install" else []
    result = host.sk("--sandbox", "mcp", command, "cursor", *args)
    assert result.exit_code == 5, (result.stdout, result.stderr)
    line = assert_one_error_line(result)
    assert "left as it was" in line
    assert host.files() == before
    assert not [p for p in host.root.rglob("*.bak")]


def test_usage_errors(host: Host) -> None:
    unknown = host.sk("--sandbox", "mcp", "install", "emacs", "-u", "ana")
    assert unknown.exit_code == 2
    assert "claude-code, claude-desktop, cursor, vscode" in assert_one_error_line(unknown)
    bad_name = host.sk("--sandbox", "mcp", "install", "cursor", "-u", "ana", "--name", "a b")
    assert bad_name.exit_code == 2
    assert "--name" in assert_one_error_line(bad_name)
    assert not host.path("cursor").exists()


@pytest.mark.parametrize(
    ("platform", "environ", "expected"),
    [
        (
            "darwin",
            {"HOME": "/Users/ana"},
            "/Users/ana/Library/Application Support/Claude/claude_desktop_config.json",
        ),
        (
            "win32",
            {"HOME": "/c/Users/ana", "APPDATA": "/c/Users/ana/AppData/Roaming"},
            "/c/Users/ana/AppData/Roaming/Claude/claude_desktop_config.json",
        ),
        ("linux", {"HOME": "/home/ana"}, "/home/ana/.config/Claude/claude_desktop_config.json"),
        (
            "linux",
            {"HOME": "/home/ana", "XDG_CONFIG_HOME": "/xdg"},
            "/xdg/Claude/claude_desktop_config.json",
        ),
        (
            "linux",
            {"HOME": "/home/ana", "XDG_CONFIG_HOME": "relative"},
            "/home/ana/.config/Claude/claude_desktop_config.json",
        ),
    ],
)
def test_claude_desktop_lives_in_the_platforms_application_support_directory(
    platform: str, environ: dict[str, str], expected: str
) -> None:
    location = config_location(CLIENTS["claude-desktop"], environ, platform=platform)
    assert location.path == Path(expected)


def test_the_installed_sk_configures_its_own_absolute_path(host: Host, tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run(
        [str(SK), "--sandbox", "mcp", "install", "cursor", "-u", "ana"],
        env={**os.environ, **host.env},
        cwd=host.workspace,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    entry = json.loads(host.path("cursor").read_text())["mcpServers"]["scalekit"]
    assert entry["command"] == str(SK) and Path(entry["command"]).is_absolute()
    assert entry["args"] == ["--sandbox", "mcp", "serve", "--user", "ana"]


def test_claude_code_follows_claude_config_dir() -> None:
    client = CLIENTS["claude-code"]
    assert config_location(client, {"HOME": "/home/ana"}).path == Path("/home/ana/.claude.json")
    moved = {"HOME": "/home/ana", "CLAUDE_CONFIG_DIR": "/home/ana/.config/claude-work"}
    assert config_location(client, moved).path == Path("/home/ana/.config/claude-work/.claude.json")
