"""Baseline for `sk gmail unread`: the quickstart's Gmail loop, written by hand.

A machine token, the account's access token from /auth, then Gmail's messages.list and one
messages.get (format=metadata) per message, one after the other, on one httpx client
(keep-alive). It prints what sk prints in a pipe: From, Subject, Date and snippet per line.

    python quickstart_gmail.py user_123 20 'is:unread'
"""

import os
import sys

import httpx


def main() -> None:
    identifier, limit, query = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    gmail = os.environ.get("SK_GMAIL_API_URL", "https://gmail.googleapis.com").rstrip("/")
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
            params={"connector": "gmail", "identifier": identifier},
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        account.raise_for_status()
        details = account.json()["connected_account"]["authorization_details"]
        google = {"Authorization": f"Bearer {details['oauth_token']['access_token']}"}

        listing = client.get(
            f"{gmail}/gmail/v1/users/me/messages",
            params={"q": query, "maxResults": limit},
            headers=google,
        )
        listing.raise_for_status()
        print("From\tSubject\tDate\tSnippet")
        for item in listing.json().get("messages", []):
            message = client.get(
                f"{gmail}/gmail/v1/users/me/messages/{item['id']}",
                params={"format": "metadata", "metadataHeaders": ["From", "Subject", "Date"]},
                headers=google,
            )
            message.raise_for_status()
            data = message.json()
            headers = {h["name"]: h["value"] for h in data["payload"]["headers"]}
            fields = [headers.get("From", ""), headers.get("Subject", ""), headers.get("Date", "")]
            print("\t".join([*fields, data.get("snippet", "")]))


main()
