"""The wire library on its own: usable without the CLI, tolerant of what the gateway omits."""

from __future__ import annotations

import sys

from scalekit_cli.scalekit.client import ScalekitClient
from scalekit_cli.scalekit.errors import CredentialsRejected, NotFound
from scalekit_cli.scalekit.http import HttpSession
from scalekit_cli.scalekit.models import ConnectedAccount, GmailMessage, Tool
from scalekit_cli.scalekit.secrets import SecretRegistry
from scalekit_cli.scalekit.token_cache import TokenCache
from tests.conftest import CANARY_CLIENT_ID, CANARY_CLIENT_SECRET


def _client(sandbox, tmp_path, secret: str = CANARY_CLIENT_SECRET) -> ScalekitClient:
    return ScalekitClient(
        sandbox.url,
        CANARY_CLIENT_ID,
        secret,
        session=HttpSession(timeout=10),
        token_cache=TokenCache(sandbox.url, CANARY_CLIENT_ID, directory=tmp_path),
    )


def test_library_round_trip_without_the_cli(sandbox, tmp_path):
    client = _client(sandbox, tmp_path)
    account, created = client.get_or_create_account("gmail", "lib user")
    assert created and account.status == "PENDING_AUTH" and account.id.startswith("ca_")
    again, created_again = client.get_or_create_account("gmail", "lib user")
    assert not created_again and again.id == account.id
    link = client.magic_link("gmail", "lib user")
    assert link.link.startswith(sandbox.url) and link.expires is not None
    assert [a.identifier for a in client.iter_accounts(connector="gmail")] == ["lib user"]
    assert any(
        tool.name == "gmail_fetch_mails" and tool.input_schema for tool in client.iter_tools()
    )
    client.delete_account("gmail", "lib user")
    try:
        client.get_account("gmail", "lib user")
    except NotFound as exc:
        assert exc.status == 404 and exc.code == 5
    else:
        raise AssertionError("the account should be gone")
    # The library is the wire only: no CLI or terminal modules came with it.
    assert "typer" not in sys.modules or "scalekit_cli.cli.app" in sys.modules
    import scalekit_cli.scalekit.client as wire

    assert "rich" not in wire.__dict__ and "typer" not in wire.__dict__


def test_rejected_credentials_raise_a_typed_error(sandbox, tmp_path):
    registry = SecretRegistry()
    client = _client(sandbox, tmp_path, secret="wrong-secret-value")
    client.secrets = registry
    try:
        client.machine_token()
    except CredentialsRejected as exc:
        assert exc.status == 401 and exc.oauth_error == "invalid_client"
        assert "wrong-secret-value" not in str(exc)
    else:
        raise AssertionError("wrong credentials must be refused")


def test_models_tolerate_missing_empty_null_and_unknown_values():
    for payload in (
        {},
        {"status": None, "id": "", "authorization_details": None},
        {"authorization_details": {"oauth_token": None, "static_auth": {}}, "api_config": []},
    ):
        account = ConnectedAccount.from_json(payload)
        assert account.status == "" and not account.is_active
        assert (
            account.authorization_details is None
            or account.authorization_details.oauth_token is None
        )
    future = ConnectedAccount.from_json(
        {"status": "QUARANTINED", "authorization_type": "TELEPATHY"}
    )
    assert future.status == "QUARANTINED" and not future.is_active
    assert future.summary()["authorization_type"] == "TELEPATHY"
    message = GmailMessage.from_json({"id": "m1", "payload": {"headers": [None, {"name": "FROM"}]}})
    assert message.sender == "" and message.internal_date == 0
    assert Tool.from_json({"definition": None}).name == ""
