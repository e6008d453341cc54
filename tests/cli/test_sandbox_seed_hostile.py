"""Hostile seed files through the installed `sk sandbox seed`: nesting past any parser's
recursion, NaN and infinities, lone surrogates. Each is refused whole with one `sk:` line
naming the key and exit 2 (never an internal error), and the state stays as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "seed.toml"
TOOL = '"tools":[{"connection":"gmail","name":"t","input_schema":{"type":"object"},"result":'
ACCOUNT = 'version = 1\n[[accounts]]\nconnection = "gmail"\nidentifier = "u"\nstatus = "ACTIVE"\n'
MAIL = '[[accounts.app_data.messages]]\nfrom = "a@b.c"\nsubject = "s"\n'

HOSTILE = [
    ("seed.json", "[" * 100000 + "]" * 100000, "seed.json: nested more than 32 levels deep"),
    ("seed.toml", "a = " + "[" * 100000 + "]" * 100000, "seed.toml: nested more than 32"),
    (
        "seed.json",
        '{"version":1,' + TOOL + "[" * 900 + "]" * 900 + "}]}",
        "seed.json: tools[0].result[0][0]",
    ),
    ("seed.json", '{"version":1,' + TOOL + '{"v":NaN}}]}', "seed.json: tools[0].result.v: must"),
    (
        "seed.toml",
        'version = 1\n[[tools]]\nconnection = "gmail"\nname = "t"\n'
        'input_schema = { type = "object" }\nresult = { w = [-inf] }\n',
        "seed.toml: tools[0].result.w[0]: must be a finite number, not -inf",
    ),
    (
        "seed.json",
        '{"version":1,"accounts":[{"connection":"gmail","identifier":"u\\ud800",'
        '"status":"ACTIVE"}]}',
        "seed.json: accounts[0].identifier: not UTF-8 text",
    ),
    # Times a UTC answer cannot spell: before export or the mailbox broke on them.
    (
        "seed.toml",
        ACCOUNT + "expires_at = 9999-12-31T23:59:59-14:00\n",
        "seed.toml: accounts[0].expires_at: must be an RFC 3339 time with a zone from 1970",
    ),
    (
        "seed.toml",
        ACCOUNT + 'expires_at = "0001-01-01T00:00:00+14:00"\n',
        "seed.toml: accounts[0].expires_at: must be an RFC 3339 time",
    ),
    (
        "seed.toml",
        ACCOUNT + MAIL + 'date = "0001-01-01T00:00:00+14:00"\n',
        "seed.toml: accounts[0].app_data.messages[0].date: must be an RFC 3339 time",
    ),
    (
        "seed.toml",
        ACCOUNT + MAIL + 'date = "0001-01-01T00:00:00Z"\n',
        "seed.toml: accounts[0].app_data.messages[0].date: must be an RFC 3339 time",
    ),
    ("seed.json", '{"version":1,"\\udc80":1}', 'seed.json: "\\udc80": key is not UTF-8 text'),
]


@pytest.mark.parametrize(("name", "text", "problem"), HOSTILE, ids=[p for _, _, p in HOSTILE])
def test_a_hostile_seed_is_one_line_and_exit_2(sk_process, tmp_path, name, text, problem):
    assert sk_process("sandbox", "seed", str(EXAMPLE)).exit_code == 0
    before = sk_process("sandbox", "export", "--json").stdout
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = sk_process("sandbox", "seed", str(path))
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"sk: {problem}"), result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert sk_process("sandbox", "export", "--json").stdout == before


def test_seed_on_a_state_another_process_holds(sk_process, sk_env, tmp_path):
    """A writer holding the state past the busy timeout (a serve mid-write): one line,
    exit 1, and the state unchanged — not SQLite's own error as an internal one."""
    assert sk_process("sandbox", "seed", str(EXAMPLE)).exit_code == 0
    before = sk_process("sandbox", "export", "--json").stdout
    path = tmp_path / "seed.toml"
    path.write_text('version = 1\n[environment]\nclient_id = "skc_other"\n', encoding="utf-8")
    state = Path(sk_env["SK_DATA_DIR"]) / "sandbox.sqlite3"
    holder = sqlite3.connect(state, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        result = sk_process("sandbox", "seed", str(path))
    finally:
        holder.close()
    assert result.exit_code == 1, result.stderr
    assert result.stderr == (
        f"sk: cannot use the sandbox state {state}: another process holds it locked; "
        "retry when it is free\n"
    )
    assert sk_process("sandbox", "export", "--json").stdout == before
