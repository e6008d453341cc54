"""Two installs that match the card: `pip install .` is the CLI (typer, rich, httpx, …), and
everything the local AgentKit needs is the `[sandbox]` extra. Without it `sk --sandbox …`,
`sk sandbox …` and `sk demo` exit 5 with one `sk:` line giving the install command for how
this very `sk` was installed (install_hint.py, from PEP 610's direct_url.json and the
environment's pipx / uv markers).

"Without it" is made real twice: the installed `sk` run with a module of the extra hidden
from its import system, and a fresh venv where `pip install <checkout>` put no extra at all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

import pytest

from scalekit_cli.install_hint import SANDBOX_MODULES, install_command, installation
from tests.grpc.served import SK, clean_environment

REPO = Path(__file__).resolve().parents[2]


# --- the command for each kind of installation ----------------------------------------------


def _dist(
    tmp_path: Path, direct_url: dict[str, object] | None, installer: str = "pip"
) -> metadata.Distribution:
    info = tmp_path / "site" / "scalekit_cli-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Name: scalekit-cli\nVersion: 0.1.0\n", encoding="utf-8")
    (info / "INSTALLER").write_text(f"{installer}\n", encoding="utf-8")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url), encoding="utf-8")
    return metadata.PathDistribution(info)


def _prefix(tmp_path: Path, marker: str | None) -> Path:
    root = tmp_path / "env"
    root.mkdir()
    if marker is not None:
        (root / marker).write_text("{}\n", encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("direct_url", "marker", "expected"),
    [
        (  # a checkout's venv: pip install -e .
            {"url": "file:///home/me/scalekit-cli", "dir_info": {"editable": True}},
            None,
            "/home/me/scalekit-cli/.venv/bin/python -m pip install -e "
            "'/home/me/scalekit-cli[sandbox]'",
        ),
        (  # pip install <directory>: the package is not on PyPI, the directory is the source
            {"url": "file:///src/my%20clone", "dir_info": {}},
            None,
            "/home/me/scalekit-cli/.venv/bin/python -m pip install '/src/my clone[sandbox]'",
        ),
        (  # pip install <wheel>
            {"url": "file:///tmp/scalekit_cli-0.1.0-py3-none-any.whl", "archive_info": {}},
            None,
            "/home/me/scalekit-cli/.venv/bin/python -m pip install "
            "'scalekit-cli[sandbox] @ file:///tmp/scalekit_cli-0.1.0-py3-none-any.whl'",
        ),
        (  # no record of a source: no pip command, as PyPI's name is not ours
            None,
            None,
            "reinstall sk with the [sandbox] extra from the checkout or archive you installed "
            "it from (see the Quickstart in its README.md)",
        ),
        (  # pipx install <directory>
            {"url": "file:///src/scalekit-cli", "dir_info": {}},
            "pipx_metadata.json",
            "pipx install --force '/src/scalekit-cli[sandbox]'",
        ),
        (  # pipx install -e <directory>
            {"url": "file:///src/scalekit-cli", "dir_info": {"editable": True}},
            "pipx_metadata.json",
            "pipx install --force -e '/src/scalekit-cli[sandbox]'",
        ),
        (  # uv tool install git+https://…
            {
                "url": "https://github.com/acme/scalekit-cli",
                "vcs_info": {"vcs": "git", "commit_id": "0123abc", "requested_revision": "v0.1"},
            },
            "uv-receipt.toml",
            "uv tool install --force "
            "'scalekit-cli[sandbox] @ git+https://github.com/acme/scalekit-cli@v0.1'",
        ),
        (  # uv tool install --editable <directory>
            {"url": "file:///src/scalekit-cli", "dir_info": {"editable": True}},
            "uv-receipt.toml",
            "uv tool install --force --editable '/src/scalekit-cli[sandbox]'",
        ),
    ],
    ids=[
        "editable",
        "pip-dir",
        "pip-wheel",
        "pip-no-source",
        "pipx",
        "pipx-editable",
        "uv-git",
        "uv-editable",
    ],
)
def test_the_hint_fits_the_installation(
    tmp_path: Path, direct_url: dict[str, object] | None, marker: str | None, expected: str
) -> None:
    found = installation(
        _dist(tmp_path, direct_url),
        _prefix(tmp_path, marker),
        "/home/me/scalekit-cli/.venv/bin/python",
    )
    assert install_command("sandbox", found) == expected


def test_a_venv_made_by_uv_pip_gets_uv_pip(tmp_path: Path) -> None:
    record = {"url": "file:///home/me/scalekit-cli", "dir_info": {"editable": True}}
    found = installation(
        _dist(tmp_path, record, installer="uv"), _prefix(tmp_path, None), "/v/bin/python"
    )
    assert install_command("sandbox", found) == (
        "uv pip install --python /v/bin/python -e '/home/me/scalekit-cli[sandbox]'"
    )


def test_the_hint_of_this_checkout_names_its_own_venv() -> None:
    command = install_command("mcp")
    assert command == f"{sys.executable} -m pip install -e '{REPO}[mcp]'"


# --- the installed sk with a module of the extra hidden ---------------------------------------


def _hiding(tmp_path: Path, module: str) -> dict[str, str]:
    """PYTHONPATH with a sitecustomize that makes `module` not found, as if not installed."""
    root = tmp_path / "hidden"
    root.mkdir()
    (root / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == {module!r} or name.startswith({module + '.'!r}):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, _Hide())\n",
        encoding="utf-8",
    )
    return {"PYTHONPATH": str(root)}


def _run(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SK), *args],
        env={**clean_environment(), **env, "SK_DATA_DIR": str(tmp_path / "data")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def _assert_hint(done: subprocess.CompletedProcess[str], what: str, distribution: str) -> None:
    assert done.returncode == 5, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sk: "), done.stderr
    assert lines[0] == (
        f"sk: {what} needs the sandbox extra ({distribution} is not installed): "
        f"{sys.executable} -m pip install -e '{REPO}[sandbox]'"
    )


@pytest.mark.parametrize("module", list(SANDBOX_MODULES))
def test_sandbox_mode_without_the_extra_exits_5_with_the_hint(tmp_path: Path, module: str) -> None:
    done = _run(tmp_path, _hiding(tmp_path, module), "--sandbox", "status", "--user", "u")
    _assert_hint(done, "sk --sandbox", SANDBOX_MODULES[module])
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.sqlite3"))


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (("sandbox", "serve", "--memory", "--port", "0"), "sk sandbox serve"),
        (("sandbox", "serve", "--tls", "--port", "0", "--memory"), "sk sandbox serve"),
        (("sandbox", "reset", "--yes"), "sk sandbox reset"),
        (("sandbox", "force", "gmail", "--user", "u", "--status", "EXPIRED"), "sk --sandbox"),
        (("demo",), "sk --sandbox"),
    ],
    ids=["serve", "serve-tls", "reset", "force", "demo"],
)
def test_sandbox_commands_without_the_extra_exit_5_with_the_hint(
    tmp_path: Path, args: tuple[str, ...], what: str
) -> None:
    done = _run(tmp_path, _hiding(tmp_path, "google.protobuf"), *args)
    _assert_hint(done, what, "protobuf")
    assert not any(path.name.startswith("sandbox-tls") for path in tmp_path.rglob("*"))


def test_the_embedded_sandbox_loads_no_server_part() -> None:
    """`sk --sandbox` runs in process: the ASGI server, the gRPC protocol and the CA stay
    unloaded; only a loopback server (while `sk --sandbox connect` waits) loads the server."""
    script = (
        "import sys\n"
        "from scalekit_cli.sandbox import EmbeddedSandbox, create_app\n"
        "create_app()\n"
        "import tempfile, pathlib, httpx\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        "    s = EmbeddedSandbox.open(pathlib.Path(d) / 'sandbox.sqlite3')\n"
        "    httpx.Client(transport=s.transport()).post(s.base_url + '/oauth/token')\n"
        "    assert 'hypercorn' not in sys.modules\n"
        "    s.start_server()\n"
        "    s.close()\n"
        "unwanted = ['connectrpc', 'cryptography', 'grpc']\n"
        "loaded = [m for m in unwanted if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_importing_the_sandbox_package_loads_nothing_of_the_extra() -> None:
    script = (
        "import sys\n"
        "import scalekit_cli.sandbox\n"
        f"loaded = [m for m in {list(SANDBOX_MODULES)!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# --- a real install without the extra ----------------------------------------------------------


def test_a_plain_install_has_no_sandbox_and_says_how_to_add_it(tmp_path: Path) -> None:
    """`pip install <checkout>` (not editable, no extra) in a fresh venv: none of the
    extra's packages, and `sk --sandbox` names the directory it was installed from."""
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr
    probe = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util as u; "
            "print([m for m in ('starlette', 'hypercorn', 'google.protobuf', 'protovalidate', "
            "'connectrpc') if u.find_spec(m.split('.')[0]) is not None])",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.stdout.strip() == "[]", probe.stdout + probe.stderr
    done = subprocess.run(
        [str(env_dir / "bin" / "sk"), "--sandbox", "status", "--user", "u"],
        env={**clean_environment(), "SK_DATA_DIR": str(tmp_path / "data")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 5, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("sk: sk --sandbox needs the sandbox extra ("), lines[0]
    assert lines[0].endswith(f": {python} -m pip install '{REPO}[sandbox]'"), lines[0]
