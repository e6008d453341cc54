"""Tables on a real terminal (a pseudo-terminal of 80, 100 and 120 columns), drawn by
rich.table: the status, the whole id and the whole user are never cut, constant and less
important columns go first, text columns share the room and are cut at a word with `…`,
times are relative; pipes and --json keep every value exact."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import termios

import pytest

from scalekit_cli.tables import Column, cell_width, layout
from tests.cli.conftest import SK, read_terminal

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def on_a_terminal(sk_env: dict[str, str], cwd, columns: int, *args: str) -> list[str]:
    """The lines `sk ARGS` draws on a terminal `columns` wide (stdout and stderr)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**os.environ, **sk_env, "TERM": "xterm-256color"}
    env.pop("COLUMNS", None)  # the terminal's own size decides
    process = subprocess.Popen(
        [str(SK), *args], stdin=follower, stdout=follower, stderr=follower, env=env, cwd=cwd
    )
    os.close(follower)
    screen = read_terminal(leader, finished=lambda: process.poll() is not None)
    process.wait(timeout=10)
    os.close(leader)
    text = ANSI.sub("", screen.decode("utf-8")).replace("\r\n", "\n")
    return [line for line in text.split("\n") if line]


def header_and_rows(lines: list[str], first: str) -> tuple[list[str], list[str]]:
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    return lines[start].split(), lines[start + 1 :]


@pytest.fixture
def accounts(driver):
    """Three accounts of one user, one with the longest status and connector names."""
    ids = {}
    for connector in ("gmail", "slack", "googlecalendar"):
        ids[connector] = driver.connect(connector, "u")["id"]
    driver.force("googlecalendar", "u", "PENDING_VERIFICATION")
    return ids


def test_status_at_80_columns_keeps_status_and_id_whole(sk_env, tmp_path, accounts):
    lines = on_a_terminal(sk_env, tmp_path, 80, "status", "--user", "u")
    header, rows = header_and_rows(lines, "Connector")
    assert header[:2] == ["Connector", "Status"] and header[-1] == "Id"
    assert "Type" not in header, "the least important column went first"
    table = rows[:3]
    assert all(cell_width(line) <= 80 for line in [lines[0], *table]), lines
    by_connector = {line.split()[0]: line.split() for line in table}
    assert set(by_connector) == set(accounts)
    for connector, account_id in accounts.items():
        assert by_connector[connector][-1] == account_id  # whole: copy it into --account-id
    assert by_connector["googlecalendar"][1] == "PENDING_VERIFICATION"
    assert by_connector["gmail"][1] == "ACTIVE"
    assert not [line for line in table if "…" in line]
    assert "─" not in "".join(lines) and "│" not in "".join(lines), "no box borders"


def test_status_at_120_columns_shows_every_column_with_relative_times(sk_env, tmp_path, accounts):
    lines = on_a_terminal(sk_env, tmp_path, 120, "status", "--user", "u")
    header_line = next(line for line in lines if line.startswith("Connector"))
    assert header_line.split() == [
        "Connector",
        "Status",
        "Type",
        "Token",
        "expires",
        "Updated",
        "Id",
    ]
    gmail = next(line for line in lines if line.startswith("gmail"))
    assert re.search(r"  in 59m  ", gmail), gmail  # the token: an hour from the connect
    assert re.search(r"  \d+s ago  ", gmail), gmail
    assert not RFC3339.search("\n".join(lines)), "no raw timestamps on a terminal"


def test_pipes_and_json_keep_the_exact_times(sk, accounts):
    piped = sk("status", "--user", "u")
    rows = [line.split("\t") for line in piped.stdout.splitlines()]
    assert rows[0] == ["Connector", "Status", "Type", "Token expires", "Updated", "Id"]
    assert all(RFC3339.fullmatch(row[4]) for row in rows[1:]), rows
    document = json.loads(sk("status", "--user", "u", "--json").stdout)
    assert all(RFC3339.fullmatch(account["updated_at"]) for account in document)


@pytest.mark.parametrize("columns", [80, 120])
def test_gmail_unread_fits_one_line_per_message_cut_at_words(sk, sk_env, tmp_path, driver, columns):
    driver.connect("gmail", "u")
    messages = json.loads(sk("gmail", "unread", "--user", "u", "--json").stdout)
    lines = on_a_terminal(sk_env, tmp_path, columns, "gmail", "unread", "--user", "u")
    header, rows = header_and_rows(lines, "From")
    assert header == ["From", "Subject", "Date", "Snippet"]
    assert len(rows) == len(messages) == 5, "one line per message, no borders"
    assert all(cell_width(line) <= columns for line in [*rows]), rows
    cut = 0
    for row, message in zip(rows, messages, strict=True):
        assert re.search(r"  \d+[smhd] ago  |  \d{4}-\d\d-\d\d  ", row), row
        snippet = re.split(r"  (?:\d+[smhd] ago|\d{4}-\d\d-\d\d)  ", row)[1].strip()
        if snippet.endswith("…"):
            cut += 1
            kept = snippet[:-1]
            assert message["snippet"].startswith(kept), (snippet, message["snippet"])
            # Cut at a word: what follows the kept text starts a new word.
            assert message["snippet"][len(kept) :][:1] in (" ", ",", ".", ";", ":", "-")
        else:
            assert snippet == message["snippet"]
    assert cut, "the mailbox's snippets are longer than either width"


LONG_USER = "li.wei@example-corp.com"  # one word: cutting it would leave no usable identifier


@pytest.mark.parametrize("columns", [80, 100])
def test_accounts_list_drops_the_constant_type_before_cutting_the_user(
    sk_env, tmp_path, driver, columns
):
    ids = {
        connector: driver.connect(connector, LONG_USER)["id"] for connector in ("gmail", "slack")
    }
    ids["googlecalendar"] = driver.connect("googlecalendar", LONG_USER)["id"]
    lines = on_a_terminal(sk_env, tmp_path, columns, "accounts", "list")
    header, rows = header_and_rows(lines, "Connector")
    assert all(cell_width(line) <= columns for line in [*rows, " ".join(header)]), lines
    # Type reads OAUTH on every row: it goes before anything is cut, Updated stays if it fits.
    assert header == (
        ["Connector", "User", "Status", "Updated", "Id"]
        if columns == 80
        else ["Connector", "User", "Status", "Type", "Updated", "Id"]
    ), lines
    by_id = {line.split()[-1]: line.split() for line in rows}
    assert set(by_id) == set(ids.values()), "every id whole"
    for connector, account_id in ids.items():
        cells = by_id[account_id]
        assert cells[:3] == [connector, LONG_USER, "ACTIVE"], cells
    assert not [line for line in rows if "…" in line]


@pytest.mark.parametrize("columns", [80, 100])
def test_gmail_unread_snippets_keep_a_readable_share_before_senders(
    sk, sk_env, tmp_path, driver, columns
):
    driver.connect("gmail", "u")
    messages = json.loads(sk("gmail", "unread", "--user", "u", "--json").stdout)
    lines = on_a_terminal(sk_env, tmp_path, columns, "gmail", "unread", "--user", "u")
    _, rows = header_and_rows(lines, "From")
    date = re.compile(r"  (?:\d+[smhd] ago|\d{4}-\d\d-\d\d)  ")
    for row, message in zip(rows, messages, strict=True):
        before, snippet = date.split(row)
        sender = before.rstrip().rsplit("  ", 1)[0].strip()
        shown = snippet.strip().removesuffix("…")
        whole_sender = sender == message["from"]
        if shown != message["snippet"]:
            # Never a whole sender beside a snippet cut to its first word.
            assert not (whole_sender and len(shown.split()) < 2), (sender, snippet)
            if columns == 100:
                assert len(shown.split()) >= 3, ("a readable share", snippet)


def test_a_column_alike_on_every_row_is_left_out_before_its_drop_order_says():
    columns = [Column("Id"), Column("Kind", drop=2), Column("When", drop=1)]
    rows = [["ca_1", "OAUTH", "1h ago"], ["ca_2", "OAUTH", "3d ago"]]
    shown, widths = layout(columns, rows, 14)
    assert [columns[i].name for i in shown] == ["Id", "When"] and sum(widths) + 2 <= 14
    varied = [["ca_1", "OAUTH", "1h ago"], ["ca_2", "API_KEY", "3d ago"]]
    shown, _ = layout(columns, varied, 14)
    assert [columns[i].name for i in shown] == ["Id", "Kind"]
