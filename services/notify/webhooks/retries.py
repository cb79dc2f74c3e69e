"""When to try a webhook delivery again: the retry schedule with jitter, Retry-After, and what a reply means."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

# Delay before each attempt, in seconds: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
SCHEDULE = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600)
MAX_ATTEMPTS = len(SCHEDULE)
JITTER = 0.1  # each retry moves by up to +-10%, so endpoints that failed together do not retry together
MAX_RETRY_AFTER = 24 * 3600
DISABLE_AFTER = timedelta(days=5)  # an unbroken failing streak this long disables the endpoint

SUCCEEDED, RETRY, GONE = "succeeded", "retry", "gone"


def outcome_of(status: int) -> str:
    """2xx succeeded; 410 Gone means the endpoint is gone; any other status (and no reply) is retried."""
    if 200 <= status < 300:
        return SUCCEEDED
    if status == 410:
        return GONE
    return RETRY


def honours_retry_after(status: int) -> bool:
    return status == 429 or 500 <= status < 600


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max((moment - now).total_seconds(), 0.0)


def retry_delay(attempts_made: int, retry_after: float | None = None, rng: random.Random | None = None) -> float | None:
    """Seconds until the next attempt after `attempts_made` failed ones, or None when the schedule is spent.

    The scheduled delay gets jitter; a Retry-After asking for longer wins (capped at 24 h)."""
    if attempts_made >= MAX_ATTEMPTS:
        return None
    delay = SCHEDULE[attempts_made] * (1 + (rng or random).uniform(-JITTER, JITTER))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay
