"""Retry timing: exponential backoff with jitter, and the server's own Retry-After.

Servers say when to come back in different ways: ``retry-after-ms`` (OpenAI's SDKs honour it first),
``Retry-After`` as seconds or as an HTTP date, or a delay inside the error body (Google's RetryInfo).
"""

from __future__ import annotations

import email.utils
import random
import time
from typing import Mapping

from ._config import RetryPolicy

__all__ = ["backoff_delay", "retry_after_seconds"]


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait, or None if it did not say (or said nonsense)."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            ms = float(value)
        except ValueError:
            ms = -1.0
        if ms >= 0:
            return ms / 1000.0
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if parsed.tzinfo is None:
            return None
        seconds = parsed.timestamp() - (time.time() if now is None else now)
        return max(seconds, 0.0)
    return seconds if seconds >= 0 else None


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Delay before retry number ``attempt`` (1-based): exponential, capped, with full jitter on the upper half.

    Half of the exponential step is kept so retries still spread out in time; the other half is random so that
    many clients failing together do not come back together.
    """
    step = min(policy.max_backoff_s, policy.initial_backoff_s * (2 ** (attempt - 1)))
    return step / 2 + (rng or random).random() * step / 2
