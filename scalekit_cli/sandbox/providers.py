"""ListProviders: the providers behind the environment's connections, then its custom providers.

The sandbox has no global provider catalogue, so the providers it lists are those its
connections use (one per distinct `Connection.provider`, in the order the connections are
configured) followed by the custom providers created through CreateCustomProvider, oldest
first. `filter.provider_type` picks them, as its description in the descriptors says: "DEFAULT
(or omitted) keeps existing behavior. CUSTOM returns only environment-scoped providers. ALL
returns both default (null environment) and current-environment custom providers" — so an
omitted type lists the connections' providers only (the Python SDK's docstring, "Pass None to
return all", says otherwise; the descriptors are the contract).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from .custom_providers import CustomProviders
from .paging import page

if TYPE_CHECKING:
    from .engine import SandboxEngine

DEFAULT_PAGE_SIZE = 50


def _builtin_id(identifier: str) -> str:
    # Stable across processes, as connection ids are.
    digits = int(hashlib.sha256(identifier.encode()).hexdigest(), 16) % 10**17
    return f"prv_{digits:017d}"


def builtin_providers(engine: SandboxEngine) -> list[dict[str, Any]]:
    by_identifier: dict[str, dict[str, Any]] = {}
    for connection in engine.settings.connections:
        provider = by_identifier.setdefault(
            connection.provider,
            {
                "id": _builtin_id(connection.provider),
                "identifier": connection.provider,
                "display_name": connection.provider.replace("_", " ").title(),
                "auth_patterns": [],
                "is_custom": False,
                "is_custom_mcp": False,
                "metadata": {},
            },
        )
        pattern = {"type": connection.authorization_type}
        if pattern not in provider["auth_patterns"]:
            provider["auth_patterns"].append(pattern)
    return list(by_identifier.values())


def list_providers(
    engine: SandboxEngine,
    *,
    identifier: str = "",
    provider_type: str = "DEFAULT",
    page_size: int = 0,
    page_token: str = "",
) -> dict[str, Any]:
    providers: list[dict[str, Any]] = []
    if provider_type in ("DEFAULT", "ALL"):
        providers.extend(builtin_providers(engine))
    if provider_type in ("CUSTOM", "ALL"):
        with engine.store.read() as session:
            providers.extend(CustomProviders.to_wire(record) for record in session.providers())
    if identifier:
        providers = [p for p in providers if p["identifier"] == identifier]
    return page(providers, "providers", page_size or DEFAULT_PAGE_SIZE, page_token)
