"""`sk sandbox seed FILE` and `sk sandbox export`: the installed `sk` loads the README's seed
example into the state `sk --sandbox` uses and answers from it; bad seed files are refused
whole (every problem named, exit 2, state untouched); export then seed answers alike."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.cli.conftest import assert_no_leak

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "seed.toml"
CANARY_TOKEN = "CANARYat-seed-Qp47Wx2Zr9"
CANARY_KEY = "CANARYak-seed-Hm38Tn5Lc1"


@pytest.fixture
def run(sk_process, sk_env):
    """`sk ARGS…` with the result's JSON (for --json) or the result itself."""

    def invoke(*args: str, code: int = 0):
        result = sk_process(*args)
        assert result.exit_code == code, (args, result.stderr)
        return json.loads(result.stdout) if "--json" in args else result

    return invoke


def _state(run) -> tuple:
    """What `sk --sandbox` answers about the environment: the same tuple, the same state."""
    connections = run("--sandbox", "--json", "connections", "list")
    accounts = run("--sandbox", "--json", "accounts", "list")
    tools = run("--sandbox", "--json", "tools", "list")
    return (
        [(c["name"], c["provider"], c["authorization_type"]) for c in connections],
        sorted((a["connector"], a["identifier"], a["status"], a["id"]) for a in accounts),
        sorted(t["name"] for t in tools),
    )


def test_the_readme_shows_the_example_file():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"```toml\n{EXAMPLE.read_text(encoding='utf-8')}```" in readme


def test_the_readme_example_through_sk(run):
    done = run("sandbox", "seed", str(EXAMPLE))
    assert "3 connections, 3 accounts, 2 seeded tools" in done.stderr
    connections, accounts, tools = _state(run)
    assert connections == [
        ("GMAIL", "GOOGLE", "OAUTH"),
        ("freshdesk-8", "FRESHDESK", "API_KEY"),
        ("myapp", "MYAPP", "OAUTH"),
    ]
    assert ("GMAIL", "default", "ACTIVE", "ca_0123456789") in accounts
    assert [a[:3] for a in accounts if a[0] != "GMAIL"] == [
        ("freshdesk-8", "user_42", "PENDING_AUTH"),
        ("myapp", "default", "ACTIVE"),
    ]
    # GMAIL is backed by the Gmail app: its tools under their catalogue names, and the seed's.
    assert tools == [
        "c-myapp_create-doc",
        "c-myapp_fetch-docs",
        "gmail_fetch_mails",
        "gmail_get_profile",
    ]
    found = run("--sandbox", "--json", "tools", "search", "fetch documents")
    assert found[0]["name"] == "c-myapp_fetch-docs" and found[0]["provider"] == "MYAPP"

    fetched = run(
        "--sandbox", "--json", "exec-tool", "c-myapp_fetch-docs",
        "--connector", "myapp", "--user", "default", "-p", "query=otters",
    )  # fmt: skip
    assert fetched["data"] == {"documents": [{"title": "Docs for otters", "owner": "default"}]}
    created = run(
        "--sandbox", "--json", "exec-tool", "c-myapp_create-doc",
        "--connector", "myapp", "--user", "default", "-p", "title=Plan",
    )  # fmt: skip
    assert created["data"] == {"created": True, "title": "Plan", "connection": "myapp"}
    mails = run(
        "--sandbox", "--json", "exec-tool", "gmail_fetch_mails",
        "--connector", "GMAIL", "--user", "default", "-p", "max_results=2",
    )  # fmt: skip
    assert [m["subject"] for m in mails["data"]["messages"]] == ["Deploy done", "Notes from Monday"]
    # The schema is the seed's: `query` is required.
    run(
        "--sandbox", "exec-tool", "c-myapp_fetch-docs", "--connector", "myapp",
        "--user", "default", code=2,
    )  # fmt: skip

    token = run("--sandbox", "--json", "--debug", "token", "GMAIL", "--user", "default")
    assert token["status"] == "ACTIVE" and token["access_token"]
    assert token["scopes"] == ["https://www.googleapis.com/auth/gmail.readonly"]


BAD_SEEDS = [
    ("version = 1\n[environment\n", "seed.toml: not TOML"),
    ("version = 2\n", "seed.toml: version: must be 1, not 2"),
    ("version = 1\ncolour = 1\n", "seed.toml: colour: unknown key"),
    (
        'version = 1\n[[connections]]\nname = "A"\nprovider = "P"\nauthorization_type = "OATH"\n',
        'seed.toml: connections[0].authorization_type: "OATH" is not one of OAUTH, API_KEY',
    ),
    (
        'version = 1\n[[connections]]\nname = "A"\nprovider = "P"\nauthorization_type = "OAUTH"\n'
        'app = "jira"\n',
        'seed.toml: connections[0].app: "jira" is not one of gmail, googlecalendar',
    ),
    (
        'version = 1\n[[connections]]\nname = "A B!"\nprovider = "P"\n'
        'authorization_type = "OAUTH"\n',
        'seed.toml: connections[0].name: "A B!": does not match regex pattern',
    ),
    (
        'version = 1\n[[connections]]\nname = "A"\nprovider = "P"\nauthorization_type = "OAUTH"\n'
        '[[connections]]\nname = "A"\nprovider = "Q"\nauthorization_type = "OAUTH"\n',
        'seed.toml: connections[1].name: "A" is declared twice',
    ),
    (
        'version = 1\n[[accounts]]\nconnection = "gmail"\nidentifier = "u"\nstatus = "PENDNG"\n',
        'seed.toml: accounts[0].status: "PENDNG" is not one of ACTIVE, EXPIRED, PENDING_AUTH, '
        "PENDING_VERIFICATION, DISCONNECTED",
    ),
    (
        f'version = 1\n[[accounts]]\nconnection = "gmail"\nidentifier = "{"u" * 101}"\n'
        'status = "ACTIVE"\n',
        "seed.toml: accounts[0].identifier: ",
    ),
    (
        'version = 1\n[[accounts]]\nconnection = "gmail"\nidentifier = "u"\nstatus = "ACTIVE"\n'
        '[[accounts]]\nconnection = "gmail"\nidentifier = "u"\nstatus = "EXPIRED"\n',
        'seed.toml: accounts[1]: a second account of "u" on "gmail"',
    ),
    (
        'version = 1\n[[accounts]]\nconnection = "gmail"\nidentifier = "u"\nstatus = "ACTIVE"\n'
        'id = "ca_1"\n[[accounts]]\nconnection = "slack"\nidentifier = "u"\nstatus = "ACTIVE"\n'
        'id = "ca_1"\n',
        'seed.toml: accounts[1].id: "ca_1" is declared twice',
    ),
    (
        'version = 1\n[[accounts]]\nconnection = "gmail"\nidentifier = "u"\nstatus = "ACTIVE"\n'
        'id = "acct-1"\n',
        'seed.toml: accounts[0].id: "acct-1": does not have prefix `ca_`',
    ),
    (
        'version = 1\n[[accounts]]\nconnection = "jira"\nidentifier = "u"\nstatus = "ACTIVE"\n',
        'seed.toml: accounts[0].connection: "jira" is no declared connection',
    ),
    (
        'version = 1\n[[accounts]]\nconnection = "gmail"\nidentifier = "u"\nstatus = "ACTIVE"\n'
        'static_credentials = { api_key = "k" }\n',
        "seed.toml: accounts[0].static_credentials: gmail is an OAUTH connection",
    ),
    (
        'version = 1\n[[accounts]]\nconnection = "gmail"\nidentifier = "u"\nstatus = "ACTIVE"\n'
        'expires_at = "tomorrow"\n',
        "seed.toml: accounts[0].expires_at: must be an RFC 3339 time",
    ),
    (
        'version = 1\n[[tools]]\nconnection = "jira"\nname = "t"\n'
        'input_schema = { type = "object" }\n',
        'seed.toml: tools[0].connection: "jira" is no declared connection',
    ),
    (
        'version = 1\n[[tools]]\nconnection = "gmail"\nname = "t"\n'
        'input_schema = { type = "objet" }\n',
        'seed.toml: tools[0].input_schema["type"]: not a JSON schema',
    ),
    (
        'version = 1\n[[accounts]]\nconnection = "gmail"\nidentifier = "u"\nstatus = "ACTIVE"\n'
        "app_data = { pages = [] }\n",
        "seed.toml: accounts[0].app_data.pages: unknown key (known: messages)",
    ),
    (
        'version = 1\n[[tools]]\nconnection = "gmail"\nname = "gmail_get_profile"\n'
        'input_schema = { type = "object" }\n',
        'seed.toml: tools[0].name: "gmail_get_profile" is a tool of the app behind "gmail"',
    ),
    (
        'version = 1\n[[accounts]]\nconnection = "gmail"\nidentifier = 7\nstatus = "ACTIVE"\n',
        "seed.toml: accounts[0].identifier: must be a string, not a number",
    ),
]


@pytest.mark.parametrize(("text", "problem"), BAD_SEEDS, ids=[p for _, p in BAD_SEEDS])
def test_a_bad_seed_is_refused_whole(run, sk_process, tmp_path, text, problem):
    run("sandbox", "seed", str(EXAMPLE))
    before = sk_process("sandbox", "export", "--json").stdout  # the whole state
    path = tmp_path / "seed.toml"
    path.write_text(text, encoding="utf-8")
    result = sk_process("sandbox", "seed", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert any(line.startswith(f"sk: {problem}") for line in result.stderr.splitlines()), (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert sk_process("sandbox", "export", "--json").stdout == before


def test_every_problem_is_named_at_once(sk_process, tmp_path):
    path = tmp_path / "seed.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "accounts": [
                    {"connection": "gmail", "identifier": "u", "status": "GONE"},
                    {"connection": "nope", "identifier": "v", "status": "ACTIVE", "id": "x"},
                ],
            }
        ),
        encoding="utf-8",
    )
    result = sk_process("sandbox", "seed", str(path))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        'sk: seed.json: accounts[0].status: "GONE" is not one of ACTIVE, EXPIRED, '
        "PENDING_AUTH, PENDING_VERIFICATION, DISCONNECTED",
        'sk: seed.json: accounts[1].connection: "nope" is no declared connection',
        'sk: seed.json: accounts[1].id: "x": does not have prefix `ca_`',
    ]


def test_export_then_seed_gives_the_same_answers(run, sk_process, tmp_path):
    seed = tmp_path / "with-secrets.toml"
    seed.write_text(
        EXAMPLE.read_text(encoding="utf-8")
        + f'\n[[accounts]]\nconnection = "freshdesk-8"\nidentifier = "user_7"\n'
        f'status = "ACTIVE"\nstatic_credentials = {{ api_key = "{CANARY_KEY}" }}\n'
        f'\n[[accounts]]\nconnection = "GMAIL"\nidentifier = "ops"\nstatus = "EXPIRED"\n'
        f'access_token = "{CANARY_TOKEN}"\nexpires_at = 2027-01-01T00:00:00Z\n',
        encoding="utf-8",
    )
    run("sandbox", "seed", str(seed))
    before = _state(run)
    token = run("--sandbox", "--json", "--debug", "token", "GMAIL", "--user", "default")

    exported = tmp_path / "exported.toml"
    run("sandbox", "export", "-o", str(exported))
    assert exported.stat().st_mode & 0o777 == 0o600
    document = tomllib.loads(exported.read_text(encoding="utf-8"))
    assert document["environment"]["client_secret"] == "example-secret"
    (ops,) = [a for a in document["accounts"] if a["identifier"] == "ops"]
    assert (ops["access_token"], ops["expires_at"]) == (CANARY_TOKEN, "2027-01-01T00:00:00Z")

    # On stdout (a pipe here) the credentials are left out, and said so.
    shown = sk_process("sandbox", "export")
    assert shown.exit_code == 0 and "[[accounts]]" in shown.stdout
    assert "left out on stdout" in shown.stderr
    assert_no_leak(shown, CANARY_KEY, CANARY_TOKEN, "example-secret", token["access_token"])
    as_json = sk_process("sandbox", "export", "--json")
    assert json.loads(as_json.stdout)["connections"] == document["connections"]

    run("sandbox", "reset", "--yes")
    assert _state(run) != before
    run("sandbox", "seed", str(exported))
    assert _state(run) == before
    again = run("--sandbox", "--json", "--debug", "token", "GMAIL", "--user", "default")
    assert again["access_token"] == token["access_token"]
    fetched = run(
        "--sandbox", "--json", "exec-tool", "c-myapp_fetch-docs",
        "--connector", "myapp", "--user", "default", "-p", "query=x",
    )  # fmt: skip
    assert fetched["data"]["documents"][0]["title"] == "Docs for x"


def test_serve_starts_from_a_seed(sk_process, tmp_path):
    """`serve --seed` without --client-id takes the seed's environment, and serves its
    accounts; a bad seed stops it before it binds."""
    bad = tmp_path / "bad.toml"
    bad.write_text("version = 1\nextra = true\n", encoding="utf-8")
    refused = sk_process("sandbox", "serve", "--memory", "--port", "0", "--seed", str(bad))
    assert refused.exit_code == 2
    assert refused.stderr.startswith("sk: bad.toml: extra: unknown key")
    assert refused.stdout == ""

    process = sk_process.popen(
        "sandbox", "serve", "--memory", "--port", "0", "--seed", str(EXAMPLE)
    )
    try:
        exports = {}
        while "SK_GMAIL_API_URL" not in exports:
            line = process.stdout.readline()
            assert line, process.stderr.read()
            name, _, value = line.removeprefix("export ").strip().partition("=")
            exports[name] = value
        assert exports["SCALEKIT_CLIENT_ID"] == "skc_example"
        env = {
            "SCALEKIT_ENV_URL": exports["SCALEKIT_ENV_URL"],
            "SCALEKIT_CLIENT_ID": "skc_example",
            "SCALEKIT_CLIENT_SECRET": "example-secret",
        }
        listed = sk_process("--json", "accounts", "list", "--user", "default", env=env)
        assert listed.exit_code == 0, listed.stderr
        assert {a["id"] for a in json.loads(listed.stdout) if a["connector"] == "GMAIL"} == {
            "ca_0123456789"
        }
    finally:
        process.terminate()
        process.communicate(timeout=20)
