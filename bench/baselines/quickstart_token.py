"""Baseline for `sk token CONNECTOR --user ID`: the Scalekit quickstart's calls, written by hand.

What a competent user writes instead of installing sk: plain httpx, one client (keep-alive),
a machine token from /oauth/token, then the account's credentials from
/api/v1/connected_accounts/auth. No caching of the machine token between runs, as in the
quickstart. Credentials come from the same variables sk reads.

    python quickstart_token.py gmail user_123
"""

import os
import sys

import httpx


def main() -> None:
    connector, identifier = sys.argv[1], sys.argv[2]
    with httpx.Client(base_url=os.environ["SCALEKIT_ENV_URL"], timeout=30) as client:
        token = client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": os.environ["SCALEKIT_CLIENT_ID"],
                "client_secret": os.environ["SCALEKIT_CLIENT_SECRET"],
            },
        )
        token.raise_for_status()
        account = client.get(
            "/api/v1/connected_accounts/auth",
            params={"connector": connector, "identifier": identifier},
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        account.raise_for_status()
    details = account.json()["connected_account"]["authorization_details"]
    print(details["oauth_token"]["access_token"])


main()
