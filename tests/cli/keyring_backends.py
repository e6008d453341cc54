"""Keyring backends that do not delete, chosen by PYTHON_KEYRING_BACKEND in the logout tests:
keyrings.alt's file backend (storing under XDG_DATA_HOME) with its delete changed."""

from __future__ import annotations

from keyring.errors import PasswordDeleteError
from keyrings.alt.file import PlaintextKeyring


class KeepsOnDelete(PlaintextKeyring):
    """Answers a delete as done and keeps the password."""

    def delete_password(self, service: str, username: str) -> None:
        return None


class DeniesHolding(PlaintextKeyring):
    """Says there is no such password to delete, and keeps it."""

    def delete_password(self, service: str, username: str) -> None:
        raise PasswordDeleteError("no such password")
