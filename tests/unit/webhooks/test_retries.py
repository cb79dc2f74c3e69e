"""The retry schedule with jitter, Retry-After (seconds or HTTP date) and what each reply status means."""
import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from services.notify.webhooks import retries

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=timezone.utc)


def test_schedule_is_immediately_then_5s_to_24h():
    assert retries.SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


@pytest.mark.parametrize("attempts_made", range(1, 10))
def test_each_retry_is_its_scheduled_delay_with_at_most_10_percent_jitter(attempts_made):
    rng = random.Random(attempts_made)
    delays = [retries.retry_delay(attempts_made, rng=rng) for _ in range(200)]
    scheduled = retries.SCHEDULE[attempts_made]
    assert all(scheduled * 0.9 <= d <= scheduled * 1.1 for d in delays)
    assert len(set(delays)) > 100  # jittered, not one fixed value


def test_schedule_is_spent_after_ten_attempts():
    assert retries.retry_delay(10) is None
    assert retries.retry_delay(9) is not None


def test_retry_after_asking_longer_wins_and_shorter_does_not():
    rng = random.Random(1)
    assert retries.retry_delay(1, retry_after=600, rng=rng) == 600
    assert 4.5 <= retries.retry_delay(1, retry_after=1, rng=rng) <= 5.5
    assert retries.retry_delay(1, retry_after=10 ** 9, rng=rng) == 24 * 3600  # capped


def test_retry_after_in_seconds_and_as_http_date():
    assert retries.parse_retry_after("120", NOW) == 120
    assert retries.parse_retry_after(format_datetime(NOW + timedelta(minutes=3), usegmt=True), NOW) == 180
    assert retries.parse_retry_after(format_datetime(NOW - timedelta(minutes=3), usegmt=True), NOW) == 0
    assert retries.parse_retry_after("soon", NOW) is None
    assert retries.parse_retry_after(None, NOW) is None


@pytest.mark.parametrize("status,outcome", [(200, "succeeded"), (204, "succeeded"), (410, "gone"), (429, "retry"),
                                            (500, "retry"), (503, "retry"), (404, "retry"), (301, "retry")])
def test_outcome_of_status(status, outcome):
    assert retries.outcome_of(status) == outcome


def test_retry_after_is_honoured_on_429_and_5xx_only():
    assert retries.honours_retry_after(429) and retries.honours_retry_after(503) and retries.honours_retry_after(500)
    assert not retries.honours_retry_after(404) and not retries.honours_retry_after(410)
