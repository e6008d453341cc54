"""Time on the sandbox's clock and its RFC 3339 spelling."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def rfc3339(epoch_seconds: float) -> str:
    """UTC with a `Z` suffix, spelt as protobuf's JSON mapping spells a Timestamp (what the
    gateway sends): fractional seconds only when non-zero, in groups of 3, 6 or 9 digits."""
    whole = int(epoch_seconds)
    micros = round((epoch_seconds - whole) * 1_000_000)
    if micros >= 1_000_000:
        whole, micros = whole + 1, 0
    stamp = datetime.fromtimestamp(whole, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if micros == 0:
        return f"{stamp}Z"
    if micros % 1000 == 0:
        return f"{stamp}.{micros // 1000:03d}Z"
    return f"{stamp}.{micros:06d}Z"


def real_now() -> float:
    return time.time()
