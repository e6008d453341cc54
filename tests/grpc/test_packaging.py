"""The gRPC face and `--tls` live in the `[grpc]` extra. Without it `sk sandbox serve` serves
REST and says so in one stderr line, and `--tls` exits 5 naming what to install; the embedded
sandbox never loads any of it. "Without it" is made real, venv-less: the installed `sk` runs
with a directory first on its path whose package of that name fails to import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scalekit_cli.sandbox.grpc_face import GRPC_EXTRA_HINT, GRPC_MODULES
from tests.grpc.served import SK, clean_environment, start_served


def _hiding(tmp_path: Path, module: str) -> dict[str, str]:
    """PYTHONPATH with a directory where `module` exists and raises ImportError."""
    root = tmp_path / "hidden"
    package = root.joinpath(*module.split("."))
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        f"raise ImportError('{module} is hidden by the test')\n", encoding="utf-8"
    )
    if "." in module:  # google.protobuf: the namespace parent must not shadow the real one
        (root / module.split(".")[0] / "__init__.py").write_text(
            "raise ImportError('hidden by the test')\n", encoding="utf-8"
        )
    return {"PYTHONPATH": str(root)}


@pytest.mark.parametrize("module", list(GRPC_MODULES))
def test_tls_without_the_extra_exits_5_naming_it(tmp_path: Path, module: str) -> None:
    data = tmp_path / "data"
    done = subprocess.run(
        [str(SK), "sandbox", "serve", "--tls", "--port", "0", "--memory"],
        env={**clean_environment(), **_hiding(tmp_path, module), "SK_DATA_DIR": str(data)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 5, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sk: "), done.stderr
    assert GRPC_MODULES[module] in lines[0]
    assert GRPC_EXTRA_HINT in lines[0]
    assert not any(path.name.startswith("sandbox-tls") for path in data.glob("*"))


def test_serve_without_the_extra_serves_rest_and_says_so(tmp_path: Path) -> None:
    live = start_served(tmp_path, env=_hiding(tmp_path, "connectrpc"))
    try:
        assert live.url.startswith("http://127.0.0.1:")
        assert live.machine_token().startswith("sbx_mt_")  # REST answers
        rpc = "/scalekit.v1.tools.ToolService/ListTools"
        with live.http() as client:
            assert client.post(rpc, headers={"content-type": "application/grpc"}).status_code == 404
    finally:
        stderr = live.stop()
    notes = [line for line in stderr.splitlines() if "gRPC" in line]
    assert len(notes) == 1, stderr
    assert "REST" in notes[0] and GRPC_EXTRA_HINT in notes[0]
    assert "Traceback" not in stderr


def test_the_embedded_sandbox_loads_no_grpc_part() -> None:
    script = (
        "import sys\n"
        "from scalekit_cli.sandbox import EmbeddedSandbox, create_app\n"
        "create_app()\n"
        "import tempfile, pathlib, httpx\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        "    s = EmbeddedSandbox.open(pathlib.Path(d) / 'sandbox.sqlite3')\n"
        "    httpx.Client(transport=s.transport()).post(s.base_url + '/oauth/token')\n"
        "    s.start_server()\n"
        "    s.close()\n"
        f"loaded = [m for m in {list(GRPC_MODULES)!r} + ['grpc'] if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
