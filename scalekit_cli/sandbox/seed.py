"""Seed files: an environment declared as data (TOML or JSON) for the sandbox to start from.

`load_seed` reads and checks a file, collecting every problem (named by file and key path)
into one `SeedError`; `apply_seed` replaces an engine's state with it; `export_seed` writes
an engine's state back in the same format. The keys are a contract shared with
`sk sandbox snapshot` (README, docs/sandbox.md): keep them as they are.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .app_data import TIME_HINT, check_app_data, utc_moment
from .clock import real_now
from .settings import APPS, TOOL_NAME, USER_VERIFICATION_MODES, Connection
from .store import AccountFilter, AccountRecord
from .tools import ToolContext, ToolSpec

if TYPE_CHECKING:
    from .engine import SandboxEngine

SEED_VERSION = 1
# The persisted seed configuration (connections, tools, mode) in the state's meta table: what
# an engine opening the state file later starts from.
META_KEY = "seed_config"

_TOP_KEYS = {"version", "environment", "connections", "accounts", "tools"}
_ENVIRONMENT_KEYS = {"client_id", "client_secret", "user_verification"}
_CONNECTION_KEYS = {"name", "provider", "authorization_type", "scopes", "app"}
_TOOL_KEYS = {"connection", "provider", "name", "description", "input_schema", "result"}
_ACCOUNT_KEYS = {
    "connection",
    "identifier",
    "status",
    "id",
    "scopes",
    "access_token",
    "refresh_token",
    "expires_at",
    "static_credentials",
    "app_data",
}
_TEMPLATE = re.compile(r"\{\{\s*(params\.[A-Za-z0-9_-]+|identifier|connection)\s*\}\}")
# Far deeper than any environment needs; deeper, a seed only exhausts the recursion of what
# later walks it (the checks, the templates, the JSON and TOML writers).
MAX_DEPTH = 32


class SeedError(Exception):
    """Every problem of a seed file, each one line naming the file and the key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class SeedTool:
    name: str
    description: str
    input_schema: dict[str, Any]
    result: Any
    connection: str | None = None  # one connection, or
    provider: str | None = None  # every connection of a provider

    def to_dict(self) -> dict[str, Any]:
        owner = {"connection": self.connection} if self.connection else {"provider": self.provider}
        return {
            **owner,
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
            "result": self.result,
        }

    def bind(self, connection: Connection) -> ToolSpec:
        result = self.result

        def run(context: ToolContext, params: dict[str, Any]) -> dict[str, Any]:
            values = {"identifier": context.account.identifier, "connection": connection.name}
            rendered = render_template(result, params, values)
            return rendered if isinstance(rendered, dict) else {"result": rendered}

        return ToolSpec(
            name=self.name,
            connector=connection.name,
            description=self.description,
            input_schema=self.input_schema,
            category="custom",
            tags=(),
            run=run,
        )


@dataclass
class SeedAccount:
    connection: str
    identifier: str
    status: str
    id: str | None = None
    scopes: list[str] | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: float | None = None
    static_credentials: dict[str, Any] | None = None
    app_data: dict[str, Any] | None = None  # with its defaults filled in (app_data.py)


@dataclass
class Seed:
    environment: dict[str, str] = field(default_factory=dict)
    connections: list[Connection] | None = None  # None: the file has no `connections` key
    accounts: list[SeedAccount] = field(default_factory=list)
    tools: list[SeedTool] = field(default_factory=list)


def render_template(value: Any, params: dict[str, Any], values: dict[str, str]) -> Any:
    """`value` with `{{params.NAME}}`, `{{identifier}}` and `{{connection}}` filled in. A
    string that is one placeholder alone takes the param's own value (a number stays one)."""

    def lookup(name: str) -> Any:
        if name.startswith("params."):
            return params.get(name.removeprefix("params."), "")
        return values[name]

    if isinstance(value, str):
        whole = _TEMPLATE.fullmatch(value)
        if whole:
            return lookup(whole.group(1))
        return _TEMPLATE.sub(lambda match: _text(lookup(match.group(1))), value)
    if isinstance(value, list):
        return [render_template(item, params, values) for item in value]
    if isinstance(value, dict):
        return {key: render_template(item, params, values) for key, item in value.items()}
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


_ACCOUNTS = "scalekit.v1.connected_accounts"


def _enum_names(enum_name: str) -> list[str]:
    """The values of a connected-accounts enum as the shipped descriptors spell them."""
    from . import protos

    enum = protos.descriptor_pool().FindEnumTypeByName(f"{_ACCOUNTS}.{enum_name}")
    return [value.name for value in enum.values if not value.name.endswith("_UNSPECIFIED")]


def _account_violations(connection: str, identifier: str, account_id: str = "ca_0") -> list[str]:
    """The `buf.validate` rules of the connected-account requests (the same on each) that
    the values break, as `KEY: message` with the seed's key names."""
    from . import protos

    request = protos.message_class(f"{_ACCOUNTS}.DeleteConnectedAccountRequest")(
        connector=connection, identifier=identifier, id=account_id
    )
    keys = {"connector": "connection"}
    return [f"{keys.get(v.field, v.field)}: {v.message}" for v in protos.violations(request)]


class _Checker:
    """Collects problems while walking the document."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(
            f"{self.label}: {where}: {message}" if where else f"{self.label}: {message}"
        )

    def table(self, value: Any, where: str, allowed: set[str], required: tuple[str, ...]) -> bool:
        if not isinstance(value, dict):
            self.problem(where, f"must be a table, not {_kind(value)}")
            return False
        for unknown in sorted(set(value) - allowed):
            self.problem(
                _key_path(where, unknown), f"unknown key (known: {', '.join(sorted(allowed))})"
            )
        for key in required:
            if key not in value:
                self.problem(f"{where}.{key}" if where else key, "is required")
        return True

    def string(
        self, entry: dict[str, Any], key: str, where: str, *, empty: bool = False
    ) -> str | None:
        value = entry.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(f"{where}.{key}", f"must be a string, not {_kind(value)}")
            return None
        if not value and not empty:
            self.problem(f"{where}.{key}", "must not be empty")
            return None
        return value

    def strings(self, entry: dict[str, Any], key: str, where: str) -> list[str] | None:
        value = entry.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.problem(f"{where}.{key}", "must be a list of strings")
            return None
        return list(value)

    def choice(self, entry: dict[str, Any], key: str, where: str, choices: list[str]) -> str | None:
        value = self.string(entry, key, where)
        if value is not None and value not in choices:
            self.problem(
                f"{where}.{key}", f"{json.dumps(value)} is not one of {', '.join(choices)}"
            )
            return None
        return value

    def array(self, document: dict[str, Any], key: str, where: str = "") -> list[Any]:
        value = document.get(key, [])
        if not isinstance(value, list):
            at = f"{where}.{key}" if where else key
            self.problem(at, f"must be an array of tables, not {_kind(value)}")
            return []
        return value


def _key_path(where: str, key: str) -> str:
    # Quoted unless a plain word: a key is the file's text, and a problem is one line.
    shown = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)
    return f"{where}.{shown}" if where else shown


def _check_values(check: _Checker, document: Any) -> None:
    """Note what no key of a seed may hold: nesting deeper than MAX_DEPTH, a NaN or infinite
    number (no JSON answer can carry one), a string that is no UTF-8 text (a lone surrogate
    of a JSON escape). Iterative, so a deep document cannot exhaust the recursion here."""
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            check.problem(where, f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(value, float) and not math.isfinite(value):
            check.problem(where, f"must be a finite number, not {value}")
        elif isinstance(value, str) and not _is_text(value):
            check.problem(where, "not UTF-8 text (a lone surrogate)")
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                if _is_text(key):
                    stack.append((item, _key_path(where, key), depth + 1))
                else:
                    check.problem(_key_path(where, key), "key is not UTF-8 text (a lone surrogate)")
        elif isinstance(value, list):
            stack.extend(
                (item, f"{where}[{i}]", depth + 1) for i, item in reversed(list(enumerate(value)))
            )


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def _check_connections(check: _Checker, document: dict[str, Any]) -> list[Connection] | None:
    if "connections" not in document:
        return None
    types = _enum_names("ConnectorType")
    connections: list[Connection] = []
    seen: set[str] = set()
    for index, entry in enumerate(check.array(document, "connections")):
        where = f"connections[{index}]"
        if not check.table(
            entry, where, _CONNECTION_KEYS, ("name", "provider", "authorization_type")
        ):
            continue
        name = check.string(entry, "name", where)
        provider = check.string(entry, "provider", where)
        kind = check.choice(entry, "authorization_type", where, types)
        scopes = check.strings(entry, "scopes", where)
        app = check.choice(entry, "app", where, list(APPS))
        if name is not None:
            for problem in _account_violations(name, "x"):
                message = problem.removeprefix("connection: ")
                check.problem(f"{where}.name", f"{json.dumps(name)}: {message}")
            if name in seen:
                check.problem(f"{where}.name", f"{json.dumps(name)} is declared twice")
            seen.add(name)
        if name and provider and kind:
            connections.append(Connection(name, provider, kind, scopes or [], app=app))
    return connections


def _check_tools(
    check: _Checker, document: dict[str, Any], connections: list[Connection]
) -> list[SeedTool]:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    from .tools import default_tools

    names = {connection.name for connection in connections}
    providers = {connection.provider for connection in connections}
    # The names each connection already has from the app behind it: a seeded tool of the
    # same name there would be listed twice and shadow the app's own.
    app_tools: dict[str, set[str]] = {}
    for tool in default_tools():
        app_tools.setdefault(tool.connector, set()).add(tool.name)
    taken = {
        connection.name: app_tools.get(connection.app or "", set()) for connection in connections
    }
    tools: list[SeedTool] = []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(check.array(document, "tools")):
        where = f"tools[{index}]"
        if not check.table(entry, where, _TOOL_KEYS, ("name", "input_schema")):
            continue
        connection = check.string(entry, "connection", where)
        provider = check.string(entry, "provider", where)
        name = check.string(entry, "name", where)
        description = check.string(entry, "description", where, empty=True) or ""
        if (connection is None) == (provider is None):
            check.problem(where, "give one of connection or provider")
        elif connection is not None and connection not in names:
            check.problem(
                f"{where}.connection", f"{json.dumps(connection)} is no declared connection"
            )
        elif provider is not None and provider not in providers:
            check.problem(
                f"{where}.provider", f"{json.dumps(provider)} is the provider of no connection"
            )
        if name is not None and not TOOL_NAME.fullmatch(name):
            check.problem(
                f"{where}.name", f"{json.dumps(name)} is not a tool name (letters, digits, _ . -)"
            )
        elif name is not None:
            owner = connection or provider or ""
            if (owner, name) in seen:
                check.problem(
                    f"{where}.name", f"{json.dumps(name)} is declared twice for {json.dumps(owner)}"
                )
            seen.add((owner, name))
            clashes = [
                c.name
                for c in connections
                if (c.name == connection or c.provider == provider) and name in taken[c.name]
            ]
            if clashes:
                check.problem(
                    f"{where}.name",
                    f"{json.dumps(name)} is a tool of the app behind {json.dumps(clashes[0])}",
                )
        schema = entry.get("input_schema")
        if "input_schema" in entry:
            if not isinstance(schema, dict):
                check.problem(f"{where}.input_schema", f"must be a table, not {_kind(schema)}")
            else:
                try:
                    Draft202012Validator.check_schema(schema)
                except SchemaError as error:
                    path = "".join(f"[{json.dumps(part)}]" for part in error.path)
                    check.problem(
                        f"{where}.input_schema{path}", f"not a JSON schema: {error.message}"
                    )
                    schema = None
                if isinstance(schema, dict) and schema.get("type", "object") != "object":
                    check.problem(
                        f"{where}.input_schema.type", 'must be "object" (tool params are an object)'
                    )
        if name and isinstance(schema, dict) and (connection or provider):
            # No `result` (a snapshot knows none): the tool runs and answers an empty object.
            result = entry.get("result", {})
            tools.append(SeedTool(name, description, schema, result, connection, provider))
    return tools


def _check_accounts(
    check: _Checker, document: dict[str, Any], connections: list[Connection]
) -> list[SeedAccount]:
    by_name = {connection.name: connection for connection in connections}
    statuses = _enum_names("ConnectorStatus")
    accounts: list[SeedAccount] = []
    now = real_now()  # seeding clears the clock's offset: the sandbox's time is this
    keys: set[tuple[str, str]] = set()
    ids: set[str] = set()
    for index, entry in enumerate(check.array(document, "accounts")):
        where = f"accounts[{index}]"
        if not check.table(entry, where, _ACCOUNT_KEYS, ("connection", "identifier", "status")):
            continue
        connection_name = check.string(entry, "connection", where)
        identifier = check.string(entry, "identifier", where)
        status = check.choice(entry, "status", where, statuses)
        account_id = check.string(entry, "id", where)
        scopes = check.strings(entry, "scopes", where)
        access_token = check.string(entry, "access_token", where)
        refresh_token = check.string(entry, "refresh_token", where)
        connection = by_name.get(connection_name or "")
        if connection_name is not None and connection is None:
            check.problem(
                f"{where}.connection", f"{json.dumps(connection_name)} is no declared connection"
            )
        # The contract's rules on the identifier and the id (connection names are checked
        # with the connections).
        for problem in _account_violations("x", identifier or "x", account_id or "ca_0"):
            key, _, message = problem.partition(": ")
            value = identifier if key == "identifier" else account_id
            check.problem(f"{where}.{key}", f"{json.dumps((value or '')[:40])}: {message}")
        if connection_name and identifier:
            if (connection_name, identifier) in keys:
                check.problem(
                    where,
                    f"a second account of {json.dumps(identifier)} "
                    f"on {json.dumps(connection_name)}",
                )
            keys.add((connection_name, identifier))
        if account_id is not None:
            if account_id in ids:
                check.problem(f"{where}.id", f"{json.dumps(account_id)} is declared twice")
            ids.add(account_id)
        expires_at = None
        if "expires_at" in entry:
            moment = utc_moment(entry["expires_at"])
            expires_at = moment.timestamp() if moment is not None else None
            if expires_at is None:
                check.problem(f"{where}.expires_at", TIME_HINT)
        static = entry.get("static_credentials")
        if static is not None and not isinstance(static, dict):
            check.problem(f"{where}.static_credentials", f"must be a table, not {_kind(static)}")
            static = None
        if connection is not None:
            if static is not None and connection.is_oauth:
                check.problem(
                    f"{where}.static_credentials",
                    f"{connection.name} is an OAUTH connection: give access_token/refresh_token",
                )
            if not connection.is_oauth and (access_token or refresh_token):
                check.problem(
                    where,
                    f"{connection.name} is an {connection.authorization_type} connection: "
                    "give static_credentials, not tokens",
                )
        app_data = None
        if "app_data" in entry and connection is not None:
            app_data = check_app_data(
                check,
                entry["app_data"],
                f"{where}.app_data",
                connection.app,
                (connection.name, identifier),
                now,
            )
        if connection_name and identifier and status:
            accounts.append(
                SeedAccount(
                    connection_name,
                    identifier,
                    status,
                    account_id,
                    scopes,
                    access_token,
                    refresh_token,
                    expires_at,
                    static,
                    app_data,
                )
            )
    return accounts


def parse_seed(document: Any, label: str, default_connections: list[Connection]) -> Seed:
    """Check a parsed seed document; raise SeedError naming every problem."""
    check = _Checker(label)
    # First and alone: the checks below recurse into values and quote them in problems.
    _check_values(check, document)
    if check.problems or not check.table(document, "", _TOP_KEYS, ("version",)):
        raise SeedError(check.problems)
    version = document.get("version")
    if "version" in document and (isinstance(version, bool) or version != SEED_VERSION):
        check.problem("version", f"must be {SEED_VERSION}, not {json.dumps(version, default=str)}")
    environment: dict[str, str] = {}
    raw_environment = document.get("environment", {})
    if check.table(raw_environment, "environment", _ENVIRONMENT_KEYS, ()):
        for key in ("client_id", "client_secret"):
            value = check.string(raw_environment, key, "environment")
            if value is not None:
                environment[key] = value
        mode = check.choice(
            raw_environment, "user_verification", "environment", list(USER_VERIFICATION_MODES)
        )
        if mode is not None:
            environment["user_verification"] = mode
    connections = _check_connections(check, document)
    known = default_connections if connections is None else connections
    tools = _check_tools(check, document, known)
    accounts = _check_accounts(check, document, known)
    if check.problems:
        raise SeedError(check.problems)
    return Seed(environment, connections, accounts, tools)


def load_seed(path: Path, default_connections: list[Connection]) -> Seed:
    """Read and check a seed file: JSON for a `.json` name, TOML otherwise."""
    label = path.name
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SeedError([f"{path}: cannot read the file ({error.strerror or error})"]) from None
    try:
        if path.suffix.casefold() == ".json":
            document = json.loads(raw)
        else:
            document = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SeedError([f"{label}: not UTF-8 text"]) from None
    except RecursionError:
        raise SeedError([f"{label}: nested more than {MAX_DEPTH} levels deep"]) from None
    except json.JSONDecodeError as error:
        raise SeedError([f"{label}: line {error.lineno}: not JSON: {error.msg}"]) from None
    except tomllib.TOMLDecodeError as error:
        raise SeedError([f"{label}: not TOML: {error}"]) from None
    return parse_seed(document, label, default_connections)


# --- applying and exporting ----------------------------------------------------------------


def _connection_dict(connection: Connection) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": connection.name,
        "provider": connection.provider,
        "authorization_type": connection.authorization_type,
        "scopes": list(connection.scopes),
    }
    if connection.app is not None:
        entry["app"] = connection.app
    return entry


def config_to_json(
    seed: Seed, connections: list[Connection], mode: str, app_data: dict[str, Any]
) -> str:
    """What META_KEY holds: the parts of a seed that are configuration, not rows (app data
    by account id)."""
    return json.dumps(
        {
            "connections": [_connection_dict(connection) for connection in connections],
            "tools": [tool.to_dict() for tool in seed.tools],
            "user_verification": mode,
            "app_data": app_data,
        }
    )


def config_from_json(
    text: str,
) -> tuple[list[Connection], list[SeedTool], str, dict[str, dict[str, Any]]]:
    values = json.loads(text)
    connections = [
        Connection(c["name"], c["provider"], c["authorization_type"], c["scopes"], app=c.get("app"))
        for c in values["connections"]
    ]
    tools = [
        SeedTool(
            t["name"],
            t["description"],
            t["input_schema"],
            t["result"],
            t.get("connection"),
            t.get("provider"),
        )
        for t in values["tools"]
    ]
    return connections, tools, values["user_verification"], values.get("app_data", {})


def _account_record(
    engine: SandboxEngine, account: SeedAccount, connection: Connection, now: float
) -> AccountRecord:
    from .engine import _random_digits

    record = AccountRecord(
        id=account.id or "ca_" + _random_digits(17),
        connector=account.connection,
        identifier=account.identifier,
        status=account.status,
        created_at=now,
        updated_at=now,
    )
    if account.static_credentials is not None:
        record.authorization_details = {"static_auth": {"details": account.static_credentials}}
    elif connection.is_oauth and (account.access_token or account.status != "PENDING_AUTH"):
        # Accounts that finished a flow hold tokens; a given one wins over a generated one.
        token = engine.new_oauth_token(connection, account.refresh_token)
        if account.access_token:
            token["access_token"] = account.access_token
        token["scopes"] = list(connection.scopes if account.scopes is None else account.scopes)
        record.authorization_details = {"oauth_token": token}
        record.token_expires_at = (
            account.expires_at
            if account.expires_at is not None
            else now + engine.settings.access_token_ttl
        )
    return record


def apply_seed(engine: SandboxEngine, seed: Seed) -> None:
    """Replace the engine's whole state with the seed's, in one write."""
    connections = seed.connections if seed.connections is not None else engine.default_connections
    by_name = {connection.name: connection for connection in connections}
    mode = seed.environment.get("user_verification", "dashboard")
    app_data: dict[str, dict[str, Any]] = {}
    with engine.store.write() as session:
        session.clear()
        now = engine.now_in(session)
        for account in seed.accounts:
            record = _account_record(engine, account, by_name[account.connection], now)
            session.insert_account(record)
            if account.app_data is not None:
                app_data[record.id] = account.app_data
        session.set_meta(META_KEY, config_to_json(seed, connections, mode, app_data))
    # The client credentials are the caller's to settle (`serve --client-id` wins over the
    # seed's; the embedded sandbox keeps them in its credentials file).
    engine.configure(connections, seed.tools, mode, app_data)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _account_dict(
    record: AccountRecord, secrets: bool, app_data: dict[str, Any] | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "connection": record.connector,
        "identifier": record.identifier,
        "status": record.status,
        "id": record.id,
    }
    token = record.oauth_token
    if token:
        entry["scopes"] = list(token.get("scopes") or [])
        if secrets:
            entry["access_token"] = token["access_token"]
            if token.get("refresh_token"):
                entry["refresh_token"] = token["refresh_token"]
        if record.token_expires_at is not None:
            entry["expires_at"] = _iso(record.token_expires_at)
    static = record.authorization_details.get("static_auth")
    if secrets and isinstance(static, dict):
        entry["static_credentials"] = dict(static.get("details") or {})
    if app_data is not None:
        entry["app_data"] = app_data
    return entry


def export_seed(engine: SandboxEngine, *, secrets: bool) -> dict[str, Any]:
    """The engine's state as a seed document. With `secrets`, the tokens, static credentials
    and client secret too, so that seeding it gives the same answers; without, the sandbox
    makes new ones when it is seeded."""
    with engine.store.read() as session:
        records, _total = session.list_accounts(AccountFilter(), 0, -1)  # -1: no limit
    environment = {
        "client_id": engine.settings.client_id,
        "client_secret": engine.settings.client_secret,
        "user_verification": engine.settings.user_verification,
    }
    if not secrets:
        del environment["client_secret"]
    return {
        "version": SEED_VERSION,
        "environment": environment,
        "connections": [_connection_dict(c) for c in engine.settings.connections],
        "accounts": [
            _account_dict(record, secrets, engine.app_data.get(record.id)) for record in records
        ],
        "tools": [tool.to_dict() for tool in engine.seeded_tools],
    }
