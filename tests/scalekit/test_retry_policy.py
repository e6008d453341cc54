"""The retry policy, observed through the sandbox's fault injection: the pauses themselves are
recorded (an injected `sleep`), the requests are real."""

from __future__ import annotations

import pytest

from scalekit_cli.scalekit.client import ScalekitClient
from scalekit_cli.scalekit.errors import ApiError, NetworkError
from scalekit_cli.scalekit.http import HttpSession, RetryPolicy
from tests.conftest import CANARY_CLIENT_ID, CANARY_CLIENT_SECRET

DETAILS = "/api/v1/connected_accounts/details"


def _client(sandbox, pauses: list[float], **session) -> ScalekitClient:
    return ScalekitClient(
        sandbox.url,
        CANARY_CLIENT_ID,
        CANARY_CLIENT_SECRET,
        session=HttpSession(sleep=pauses.append, **session),
    )


def test_backoff_grows_exponentially_with_full_jitter(sandbox):
    pauses: list[float] = []
    client = _client(sandbox, pauses, retry=RetryPolicy(backoff_base=0.5))
    client.machine_token()
    sandbox.fault(path=DETAILS, kind="status", status=503)
    with pytest.raises(ApiError):
        client.get_account("gmail", "u")
    assert len(pauses) == 3  # three retries, then the answer is given up on
    for attempt, pause in enumerate(pauses):
        assert 0 <= pause <= 0.5 * 2**attempt  # full jitter under a doubling ceiling


def test_jitter_spreads_the_pauses():
    policy = RetryPolicy(backoff_base=1.0)
    assert len({round(policy.backoff(2), 6) for _ in range(50)}) > 40


def test_retry_after_is_honoured_exactly(sandbox):
    pauses: list[float] = []
    client = _client(sandbox, pauses)
    client.machine_token()
    sandbox.fault(path=DETAILS, kind="status", status=429, retry_after=7, times=1)
    with pytest.raises(ApiError):  # the account does not exist: 404 after the wait
        client.get_account("gmail", "u")
    assert pauses == [7.0]


def test_a_retry_after_beyond_the_cap_is_reported_not_slept(sandbox):
    pauses: list[float] = []
    client = _client(sandbox, pauses)
    client.machine_token()
    sandbox.fault(path=DETAILS, kind="status", status=429, retry_after=120)
    with pytest.raises(ApiError) as raised:
        client.get_account("gmail", "u")
    assert pauses == []
    assert raised.value.status == 429 and "retry after 120 s" in str(raised.value)


def test_no_retry_is_started_that_the_budget_cannot_cover(sandbox):
    pauses: list[float] = []
    client = _client(sandbox, pauses, timeout=0.3, retry=RetryPolicy(retry_budget=0.7))
    client.machine_token()
    sandbox.fault(path=DETAILS, kind="latency", latency_ms=2000)
    with pytest.raises(NetworkError):
        client.get_account("gmail", "u")
    # 0.3 s lost to the first timeout; a second would end past the 0.7 s budget.
    assert len(pauses) <= 1
