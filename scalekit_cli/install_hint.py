"""What to run to add an extra (`[sandbox]`, `[mcp]`) to this very `sk`.

The command depends on how `sk` was installed, which the installation itself records: the
dist-info's `direct_url.json` (PEP 610: installed from a directory, an archive or a VCS URL,
editable or not) and the environment `sk` runs in (pipx writes `pipx_metadata.json` at its
venv's root, `uv tool` writes `uv-receipt.toml`). The package is not on PyPI, so the name
alone is the answer only when nothing says where it came from.

Only the standard library: this runs when an import of the extra's packages would fail.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .errors import CliError, ExitCode

DISTRIBUTION = "scalekit-cli"

# What the local AgentKit (`sk --sandbox`, `sk sandbox`, `sk demo`) imports, and the
# distribution of the `[sandbox]` extra each comes from.
SANDBOX_MODULES = {
    "starlette": "starlette",
    "hypercorn": "hypercorn",
    "google.protobuf": "protobuf",
    "protovalidate": "protovalidate",
    "connectrpc": "connectrpc",
    "cryptography": "cryptography",
}


@dataclass(frozen=True)
class Installation:
    """Where this `sk` came from and what put it there."""

    kind: str  # "pipx", "uv-tool", "uv" (uv pip into a venv) or "pip"
    source: str | None  # a directory, or a URL pip understands; None: the index
    editable: bool
    python: str  # the interpreter of the environment sk runs in


def installation(
    distribution: metadata.Distribution | None = None,
    prefix: Path | None = None,
    python: str | None = None,
) -> Installation:
    """This `sk`'s installation; the arguments stand in for the running one in tests."""
    if distribution is None:
        # The installed dist-info records its source; a build's egg-info in the current
        # directory (a checkout) can come first on sys.path and records none.
        found = list(metadata.distributions(name=DISTRIBUTION))
        recorded = [d for d in found if d.read_text("direct_url.json")]
        distribution = (recorded or found or [None])[0]
    root = Path(sys.prefix) if prefix is None else prefix
    if (root / "pipx_metadata.json").is_file():
        kind = "pipx"
    elif (root / "uv-receipt.toml").is_file():
        kind = "uv-tool"
    elif distribution is not None and (distribution.read_text("INSTALLER") or "").strip() == "uv":
        kind = "uv"  # `uv pip install` into a venv, which may hold no pip
    else:
        kind = "pip"
    source, editable = _source(distribution)
    return Installation(kind, source, editable, python or sys.executable)


def _source(distribution: metadata.Distribution | None) -> tuple[str | None, bool]:
    """(where the package was installed from, whether editable), from PEP 610's record."""
    text = distribution.read_text("direct_url.json") if distribution is not None else None
    if not text:
        return None, False
    try:
        record = json.loads(text)
        url = str(record["url"])
    except (ValueError, KeyError, TypeError):
        return None, False
    dir_info = record.get("dir_info")
    if isinstance(dir_info, dict):
        parts = urlsplit(url)
        path = unquote(parts.path) if parts.scheme == "file" else url
        return path, bool(dir_info.get("editable"))
    vcs_info = record.get("vcs_info")
    if isinstance(vcs_info, dict):
        revision = vcs_info.get("requested_revision") or vcs_info.get("commit_id")
        vcs_url = f"{vcs_info.get('vcs', 'git')}+{url}"
        return (f"{vcs_url}@{revision}" if revision else vcs_url), False
    return url, False  # an archive: a wheel or sdist, by file or by URL


def install_command(extra: str, found: Installation | None = None) -> str:
    """The one command that adds `extra` to this `sk`, ready to paste into a shell; without a
    recorded source, a sentence saying where to get it instead."""
    found = installation() if found is None else found
    if found.source is None:
        # The package is not on PyPI: a bare name would install whatever claims it there.
        return (
            f"reinstall sk with the [{extra}] extra from the checkout or archive you installed "
            "it from (see the Quickstart in its README.md)"
        )
    if found.editable or not _is_url(found.source):
        requirement = f"{found.source}[{extra}]"  # a directory: pip takes path[extra]
    else:
        requirement = f"{DISTRIBUTION}[{extra}] @ {found.source}"
    editable = ["-e"] if found.editable else []
    if found.kind == "pipx":
        words = ["pipx", "install", "--force", *editable, requirement]
    elif found.kind == "uv-tool":
        words = ["uv", "tool", "install", "--force", *(["--editable"] if editable else [])]
        words.append(requirement)
    elif found.kind == "uv":
        words = ["uv", "pip", "install", "--python", found.python, *editable, requirement]
    else:
        words = [found.python, "-m", "pip", "install", *editable, requirement]
    return shlex.join(words)


def _is_url(source: str) -> bool:
    return "://" in source


def missing_module(modules: dict[str, str]) -> str | None:
    """The first of `modules` that is not installed, or None. Looks, does not import: the
    check costs no start-up time, and runs before any import that would fail."""
    for module in modules:
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except (ImportError, ValueError):
            return module
    return None


def require_sandbox_extra(what: str) -> None:
    """CliError (exit 5) naming the install command when the `[sandbox]` extra is missing."""
    missing = missing_module(SANDBOX_MODULES)
    if missing is not None:
        raise CliError(
            f"{what} needs the sandbox extra ({SANDBOX_MODULES[missing]} is not installed): "
            f"{install_command('sandbox')}",
            ExitCode.CONFIG,
        )
