"""What SECURITY.md states as tables — what `sk` stores where, and which secret it sends where —
as data. `test_security_doc.py` renders the tables from here and compares them with the
document, and checks each row against what the CLI really writes and sends."""

from __future__ import annotations

from dataclasses import dataclass

from scalekit_cli.scalekit.secrets import SECRET_CONTAINERS, SECRET_KEYS


@dataclass(frozen=True)
class Stored:
    what: str
    root: str  # the environment variable naming the directory it lives under
    pattern: str  # a glob under that directory
    file_mode: int
    directory_mode: int
    holds: str
    # For a JSON file: exactly the keys it holds.
    fields: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"`${self.root}/{self.pattern}`"


STORED: tuple[Stored, ...] = (
    Stored(
        "machine-token cache",
        "SK_CACHE_DIR",
        "tokens/*.json",
        0o600,
        0o700,
        "the machine token, its expiry, the environment URL and client id, and an HMAC of the "
        "client secret under a random salt of the file's own (so a changed secret is noticed at "
        "once) — never the client secret, nor anything it could be recovered from",
        ("access_token", "client_id", "env_url", "expires_at", "secret_mac", "secret_salt"),
    ),
    Stored(
        "token-fetch lock",
        "SK_CACHE_DIR",
        "tokens/*.lock",
        0o600,
        0o700,
        "nothing (an empty file to `flock`)",
    ),
    Stored(
        "profiles (`sk login`)",
        "SK_CONFIG_DIR",
        "profiles.toml",
        0o600,
        0o700,
        "each profile's environment URL and client id; the secret is in the OS keyring",
    ),
    Stored(
        "embedded sandbox credentials (`--sandbox`)",
        "SK_DATA_DIR",
        "sandbox-credentials.json",
        0o600,
        0o700,
        "the local sandbox's own client id and secret (they open nothing but the sandbox)",
    ),
    Stored(
        "embedded sandbox state (`--sandbox`)",
        "SK_DATA_DIR",
        "sandbox.sqlite3*",
        0o600,
        0o700,
        "the local sandbox's accounts and their made-up tokens",
    ),
    Stored(
        "sandbox TLS (`sk sandbox serve --tls`)",
        "SK_DATA_DIR",
        "sandbox-tls-*.pem",
        0o600,
        0o700,
        "a local CA's certificate (its key is discarded once it has signed), the `localhost` "
        "server certificate and its key, and a bundle of the CA plus the public roots",
    ),
)

# Defaults of the roots, for the document (paths.py: XDG on Linux, platformdirs elsewhere).
ROOT_DEFAULTS = {
    "SK_CACHE_DIR": "`~/.cache/scalekit-cli`",
    "SK_CONFIG_DIR": "`~/.config/scalekit-cli`",
    "SK_DATA_DIR": "`~/.local/share/scalekit-cli`",
}


@dataclass(frozen=True)
class Sent:
    secret: str  # the canary kind, as test_security_doc.py names them
    label: str
    routes: tuple[str, ...]  # the only requests that may carry it ("" for none)
    carried_in: str


SENT: tuple[Sent, ...] = (
    Sent(
        "client_secret",
        "client secret",
        ("POST /oauth/token",),
        "the form body of the client-credentials exchange",
    ),
    Sent(
        "machine_token",
        "machine token",
        ("/api/v1/…", "/proxy/…"),
        "`Authorization: Bearer`",
    ),
    Sent(
        "access_token",
        "a user's OAuth access token",
        ("/gmail/v1/…", "/batch/gmail/v1"),
        "`Authorization: Bearer` (`sk gmail unread`, `sk doctor --user`)",
    ),
    Sent("refresh_token", "a user's OAuth refresh token", (), "never sent by `sk`"),
    Sent("api_key", "an API-key account's key", (), "never sent by `sk`"),
)


def route_of(path: str, method: str) -> str:
    """The class of a request, as the `routes` above name them."""
    if path == "/oauth/token":
        return f"{method} /oauth/token"
    for prefix, name in (("/api/v1/", "/api/v1/…"), ("/proxy/", "/proxy/…")):
        if path.startswith(prefix):
            return name
    if path.startswith("/gmail/v1/"):
        return "/gmail/v1/…"
    return path


REDACTED_FIELDS = tuple(sorted(SECRET_KEYS))
REDACTED_CONTAINERS = tuple(sorted(SECRET_CONTAINERS))


def _mode(mode: int) -> str:
    return f"{mode:04o}"


def render_stored() -> str:
    lines = ["| what | where | mode (file / directory) | holds |", "| --- | --- | --- | --- |"]
    for item in STORED:
        modes = f"{_mode(item.file_mode)} / {_mode(item.directory_mode)}"
        lines.append(f"| {item.what} | {item.where} | {modes} | {item.holds} |")
    return "\n".join(lines)


def render_roots() -> str:
    lines = ["| directory | default on Linux |", "| --- | --- |"]
    lines.extend(f"| `${root}` | {default} |" for root, default in ROOT_DEFAULTS.items())
    return "\n".join(lines)


# How the document shows each route: `{env}` is the environment URL, `{gmail}` the Gmail API's
# root (`SK_GMAIL_API_URL`, by default https://gmail.googleapis.com).
ROUTES_SHOWN = {
    "POST /oauth/token": "`POST {env}/oauth/token`",
    "/api/v1/…": "`{env}/api/v1/…`",
    "/proxy/…": "`{env}/proxy/…`",
    "/gmail/v1/…": "`{gmail}/gmail/v1/…`",
    "/batch/gmail/v1": "`{gmail}/batch/gmail/v1` (the batch of message reads)",
}


def render_sent() -> str:
    lines = ["| secret | sent to | carried in |", "| --- | --- | --- |"]
    for item in SENT:
        routes = ", ".join(ROUTES_SHOWN[route] for route in item.routes) or "—"
        lines.append(f"| {item.label} | {routes} | {item.carried_in} |")
    return "\n".join(lines)


def render_redaction() -> str:
    fields = ", ".join(f"`{name}`" for name in REDACTED_FIELDS)
    containers = ", ".join(f"`{name}`" for name in REDACTED_CONTAINERS)
    return (
        f"Fields masked by name wherever they appear in a JSON document: {fields}. "
        f"Objects whose every string is masked: {containers}."
    )


SECTIONS = {
    "stored": render_stored,
    "roots": render_roots,
    "sent": render_sent,
    "redaction": render_redaction,
}


def markers(name: str) -> tuple[str, str]:
    return (
        f"<!-- generated: {name} (tests/security/facts.py) -->",
        f"<!-- end: {name} -->",
    )


def render(name: str) -> str:
    start, end = markers(name)
    return f"{start}\n\n{SECTIONS[name]()}\n\n{end}"


if __name__ == "__main__":
    import sys

    for section in SECTIONS:
        sys.stdout.write(render(section) + "\n\n")
