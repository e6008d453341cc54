"""Custom providers: environment-scoped connector definitions (create, update, delete).

Part of the engine (its store and clock). The document: "Identifier is derived by the system
and the identifier returned in the response must be used for update and delete operations";
update modifies "only the fields provided in the request".
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

from .errors import NOT_FOUND, ApiError
from .store import ProviderRecord

if TYPE_CHECKING:
    from .engine import SandboxEngine


def _not_found() -> ApiError:
    return ApiError(NOT_FOUND, "custom provider not found", "PROVIDER_NOT_FOUND")


def _slug(display_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", display_name.casefold()).strip("_")
    return slug[:60] or "provider"


class CustomProviders:
    def __init__(self, engine: SandboxEngine) -> None:
        self.engine = engine

    @staticmethod
    def to_wire(record: ProviderRecord) -> dict[str, Any]:
        fields = record.fields
        wire: dict[str, Any] = {
            "id": record.id,
            "identifier": record.identifier,
            "display_name": fields.get("display_name", ""),
            "auth_patterns": fields.get("auth_patterns", []),
            "is_custom": True,
            "is_custom_mcp": False,
            # "Returned for all providers; defaults to {} when no metadata has been set."
            "metadata": fields.get("metadata", {}),
        }
        for name in ("description", "icon_src", "proxy_url"):
            if fields.get(name):
                wire[name] = fields[name]
        if fields.get("proxy_enabled"):
            wire["proxy_enabled"] = True
        return wire

    def create(self, provider: dict[str, Any]) -> dict[str, Any]:
        with self.engine.store.write() as session:
            base = _slug(provider["display_name"])
            identifier, number = base, 1
            # A second provider with the same display name gets the next free identifier.
            while session.provider(identifier) is not None:
                number += 1
                identifier = f"{base}_{number}"
            now = self.engine.now_in(session)
            record = ProviderRecord(
                id="prv_" + str(secrets.randbelow(9 * 10**16) + 10**16),
                identifier=identifier,
                fields=dict(provider),
                created_at=now,
                updated_at=now,
            )
            session.insert_provider(record)
        return {"provider": self.to_wire(record)}

    def update(self, identifier: str, provider: dict[str, Any]) -> dict[str, Any]:
        with self.engine.store.write() as session:
            record = session.provider(identifier)
            if record is None:
                raise _not_found()
            record.fields = {**record.fields, **provider}
            record.updated_at = self.engine.now_in(session)
            session.save_provider(record)
        return {"provider": self.to_wire(record)}

    def delete(self, identifier: str) -> dict[str, Any]:
        with self.engine.store.write() as session:
            if session.provider(identifier) is None:
                raise _not_found()
            session.delete_provider(identifier)
        return {}
