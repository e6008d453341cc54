"""`sk demo` — the whole flow on the embedded sandbox, unattended.

Connect gmail for user_123 (the hosted page's Allow form is submitted over HTTP, as a browser
would), wait for ACTIVE, show the token redacted, list 5 unread messages, run
gmail_fetch_mails, and end with the commands to do it for real. It runs the same code as the
commands themselves.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer

from ..cli.commands import SkCommand
from ..errors import ExitCode
from ..runtime import Runtime
from ..scalekit.errors import NotFound
from . import connect, exec_tool, gmail, token
from ._common import DebugOption, JsonOption, VerboseOption, execute

DEMO_USER = "user_123"
DEMO_CONNECTOR = "gmail"
DEMO_TOOL_ARGUMENTS = '{"query": "is:unread", "max_results": 2}'


@dataclass
class DemoOptions:
    identifier: str = DEMO_USER
    json: bool = False


def _captured_json(runtime: Runtime, step: Callable[[], object]) -> Any:
    """Run a step whose --json result goes to stdout, and return that result instead."""
    out = runtime.out
    saved = out.stdout, out.stdout_tty
    out.stdout, out.stdout_tty = io.StringIO(), False
    try:
        step()
        return json.loads(out.stdout.getvalue())
    finally:
        out.stdout, out.stdout_tty = saved


def run(options: DemoOptions, runtime: Runtime) -> int:
    out = runtime.out
    runtime.flags.sandbox = True
    client = runtime.scalekit()
    sandbox = runtime.sandbox
    assert sandbox is not None
    user, as_json = options.identifier, options.json

    sk = invoked_program()
    here = f"{sk} --sandbox"  # every step as it runs: on the sandbox, with this very program
    out.info("sk demo — the whole flow on the local sandbox (no Scalekit account needed)")
    out.info("")
    out.info(f"1. {here} connect {DEMO_CONNECTOR} --user {user}")
    with contextlib.suppress(NotFound):  # start from scratch each run, with a fresh mailbox
        client.delete_account(DEMO_CONNECTOR, user)
    sandbox.start_server()
    client.get_or_create_account(DEMO_CONNECTOR, user)
    connect_options = connect.ConnectOptions(
        DEMO_CONNECTOR, user, interval=0.2, timeout=30, json=as_json
    )
    link = client.magic_link(DEMO_CONNECTOR, user)
    connect.show_link(runtime, connect_options, link)
    out.info("   … pressing Allow on the hosted page, as the user's browser would")
    from ..sandbox.hosted_form import approve_as_browser

    approve_as_browser(link.link)
    account = connect.wait_until_active(runtime, connect_options, link, None)
    out.success(f"{DEMO_CONNECTOR} is connected for {user} (ACTIVE)")
    out.info("")

    steps: dict[str, Callable[[], object]] = {
        "token": lambda: token.run(
            token.TokenOptions(DEMO_CONNECTOR, user, json=as_json, redacted_anywhere=True), runtime
        ),
        "unread": lambda: gmail.run(gmail.UnreadOptions(user, limit=5, json=as_json), runtime),
        "tool": lambda: exec_tool.run(
            exec_tool.ExecToolOptions(
                "gmail_fetch_mails", user, data=DEMO_TOOL_ARGUMENTS, json=as_json
            ),
            runtime,
        ),
    }
    headings = {
        "token": f"2. {here} token {DEMO_CONNECTOR} --user {user}",
        "unread": f"3. {here} gmail unread --user {user} --limit 5",
        "tool": f"4. {here} exec-tool gmail_fetch_mails --user {user} -d '{DEMO_TOOL_ARGUMENTS}'",
    }
    results: dict[str, Any] = {}
    for name, step in steps.items():
        if name != "token":
            out.info("")
        out.info(headings[name])
        if as_json:
            results[name] = _captured_json(runtime, step)
        else:
            step()
    if as_json:
        # Each step's result went through out.json's redaction already; redacting it again
        # would mask the mask ("ya2…[redacted]" for "ya29…[redacted]"): one shape everywhere.
        summary = {"account": out.redact(account.summary()), "link": link.link}
        out.json({**summary, **results}, redact=False)
    for line in (  # one line each: info() keeps every message to one line
        "",
        "Done. The sandbox keeps its state: go on from here (--debug shows the token):",
        f"  {here} status --user {user}",
        f"  {here} token gmail --user {user} --debug",
        f"  {here} connect slack --user {user}",
        "To do it for real, with your Scalekit environment's API credentials:",
        "  export SCALEKIT_ENV_URL=https://<your-env>.scalekit.dev "
        "SCALEKIT_CLIENT_ID=<id> SCALEKIT_CLIENT_SECRET=<secret>",
        f"  {sk} connect gmail --user {user}",
        f"  {sk} gmail unread --user {user}",
    ):
        out.info(line)
    return ExitCode.OK


def invoked_program() -> str:
    """How to run this `sk` again from here: `sk` when that is what PATH finds, else the path
    it was started by (`.venv/bin/sk` after `make demo`), so printed commands run as shown."""
    import os
    import shutil
    import sys

    from ..errors import shell_word

    started = sys.argv[0] if sys.argv else ""
    if os.path.basename(started) != "sk" or not os.path.isfile(started):
        started = os.path.join(os.path.dirname(sys.executable), "sk")
    found = shutil.which("sk")
    try:
        if found and os.path.samefile(found, started):
            return "sk"
    except OSError:
        pass
    if os.sep not in started:
        return shell_word(started)
    relative = os.path.relpath(started)
    shown = relative if not relative.startswith("..") else os.path.abspath(started)
    return shell_word(shown if os.sep in shown else f".{os.sep}{shown}")


def register(app: typer.Typer) -> None:
    @app.command(
        "demo",
        cls=SkCommand,
        epilog="""
            sk demo
            sk demo --json
        """,
    )
    def demo_command(
        ctx: typer.Context,
        json_mode: JsonOption = False,
        debug: DebugOption = False,
        verbose: VerboseOption = False,
    ) -> None:
        """Run connect → token → gmail unread → exec-tool on the local sandbox."""
        options = DemoOptions(json=json_mode)
        execute(ctx, run, options, json_mode=json_mode, verbose=verbose, debug=debug)
