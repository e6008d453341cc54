"""The floor for `sk token`: sk's own stack used as its documentation shows, and nothing else.

A Typer app with default settings and one command that makes the one request a warm
`sk token` makes — a fresh HTTPS connection, `GET /api/v1/connected_accounts/auth` with a
machine token already at hand (here from SK_BENCH_MACHINE_TOKEN, where sk has its cache) —
and prints the account's access token.

    SK_BENCH_MACHINE_TOKEN=… python floor_typer_httpx.py gmail --user user_123
"""

import os
from typing import Annotated

import httpx
import typer

app = typer.Typer()


@app.command()
def token(connector: str, user: Annotated[str, typer.Option()]) -> None:
    answer = httpx.get(
        f"{os.environ['SCALEKIT_ENV_URL']}/api/v1/connected_accounts/auth",
        params={"connector": connector, "identifier": user},
        headers={"Authorization": f"Bearer {os.environ['SK_BENCH_MACHINE_TOKEN']}"},
    )
    answer.raise_for_status()
    details = answer.json()["connected_account"]["authorization_details"]
    print(details["oauth_token"]["access_token"])


if __name__ == "__main__":
    app()
