"""Tests for jobs.scheduler's RQ loop when Redis goes away: a new scheduler once Redis answers, capped backoff, and
a clean stop (fakes for the scheduler and Redis; the real outage is in tests/integration/test_jobs_faults.py)."""
from __future__ import annotations

import logging
from dataclasses import replace
from itertools import islice

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobs.scheduler import RECONNECT_MAX_WAIT, ReconnectingCronScheduler, build_cron_scheduler, reconnect_waits, run_cron

logger = logging.getLogger(__name__)

pytestmark = pytest.mark.timeout(30)


class FakeScheduler:
    """start() plays the next outcome: an exception to raise, or None for a requested stop (start returns)."""

    def __init__(self, outcomes: list[BaseException | None], started: list[int]):
        self.outcomes, self.started = outcomes, started

    def start(self) -> None:
        self.started.append(1)
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome


class FakePing:
    def __init__(self, failures: int):
        self.failures, self.calls = failures, 0

    def __call__(self) -> bool:
        self.calls += 1
        if self.calls <= self.failures:
            raise RedisConnectionError("Connection refused")
        return True


def test_loop_starts_a_new_scheduler_once_redis_answers_again(settings):
    outcomes: list[BaseException | None] = [RedisConnectionError("lost"), RedisTimeoutError("timed out"), None]
    started: list[int] = []
    sleeps: list[float] = []
    ping = FakePing(failures=2)

    runs = run_cron(settings, build=lambda _s: FakeScheduler(outcomes, started), sleep=sleeps.append, ping=ping)

    assert runs == 3 and len(started) == 3 and outcomes == []
    assert sleeps == [1.0, 2.0, 4.0, 1.0]  # the first outage: two failed pings; the second: Redis back at once
    assert ping.calls == 4


def test_loop_stops_on_ctrl_c_while_waiting_for_redis(settings):
    def interrupted(_seconds: float) -> None:
        raise KeyboardInterrupt

    runs = run_cron(settings, build=lambda _s: FakeScheduler([RedisConnectionError("lost")], []), sleep=interrupted,
                    ping=FakePing(failures=0))

    assert runs == 1


def test_loop_stops_when_the_scheduler_stops(settings):
    sleeps: list[float] = []

    assert run_cron(settings, build=lambda _s: FakeScheduler([None], []), sleep=sleeps.append,
                    ping=FakePing(0)) == 1
    assert sleeps == []


def test_other_errors_are_not_swallowed(settings):
    with pytest.raises(ValueError):
        run_cron(settings, build=lambda _s: FakeScheduler([ValueError("a bug")], []), sleep=lambda _s: None,
                 ping=FakePing(0))


def test_reconnect_waits_double_up_to_the_cap():
    assert list(islice(reconnect_waits(), 8)) == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert RECONNECT_MAX_WAIT == 30.0
    assert list(islice(reconnect_waits(first=5, cap=12), 4)) == [5, 10, 12, 12]


def test_a_stop_still_stops_when_redis_is_gone_at_goodbye(settings, caplog):
    """start()'s finally unregisters the scheduler; with Redis down that raises, and must not turn a stop into an
    error (the loop would then wait for Redis instead of exiting)."""
    down = Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)  # nothing listens on port 1
    scheduler = ReconnectingCronScheduler(connection=down)
    scheduler._install_signal_handlers = lambda: None  # keep pytest's own handlers
    scheduler.register_birth = lambda: None

    def stop() -> list:
        raise KeyboardInterrupt

    scheduler.enqueue_jobs = stop
    with caplog.at_level(logging.WARNING, logger="jobs.scheduler"):
        assert scheduler.start() is None
    assert "could not unregister" in caplog.text


def test_cron_scheduler_is_the_reconnecting_one(settings):
    with_redis = replace(settings, redis_url="redis://127.0.0.1:6399/9")  # never connected: registration is local
    assert isinstance(build_cron_scheduler(with_redis), ReconnectingCronScheduler)
