"""The vendor's documents the sandbox is held to, shipped with it (as stripe-mock embeds its
OpenAPI document): Scalekit's AgentKit OpenAPI document and its map, Gmail's discovery
document, and a descriptor set of the official SDK's proto messages (with their
`buf.validate` field rules). `make contract` refreshes them (scripts/contract.py).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

CONTRACT_DIR = Path(__file__).resolve().parent
OPENAPI_PATH = CONTRACT_DIR / "agentkit.openapi.json"
CONTRACT_MAP_PATH = CONTRACT_DIR / "CONTRACT.md"
GMAIL_DISCOVERY_PATH = CONTRACT_DIR / "gmail.v1.discovery.json"
# A serialized google.protobuf.FileDescriptorSet: the SDK's scalekit/v1 files that the
# AgentKit services use, and every file they import (buf/validate, google/api, …).
DESCRIPTOR_SET_PATH = CONTRACT_DIR / "scalekit.descriptors.binpb"
# Which SDK release the descriptor set was taken from, and the files it holds.
DESCRIPTOR_MANIFEST_PATH = CONTRACT_DIR / "descriptors.json"


@cache
def openapi_document() -> dict[str, Any]:
    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))


@cache
def gmail_discovery_document() -> dict[str, Any]:
    return json.loads(GMAIL_DISCOVERY_PATH.read_text(encoding="utf-8"))


def descriptor_set_bytes() -> bytes:
    return DESCRIPTOR_SET_PATH.read_bytes()
