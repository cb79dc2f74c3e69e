"""Scheduler entry point: `python -m jobs.scheduler` enqueues the periodic jobs in SCHEDULE.

With Redis it runs an RQ CronScheduler (workers do the work), and when Redis goes away it waits for it and starts a
new one; without Redis it runs the same functions in this process on the same timetable, until Ctrl-C.
"""
from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from croniter import croniter
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.cron import CronScheduler
from rq.exceptions import StopRequested

from jobs import context
from jobs.queues import FAILURE_TTL, JOB_TIMEOUT, QUEUES, RESULT_TTL, enqueue, get_redis
from jobs.alerts import evaluate_all_alerts
from jobs.catalog import refresh_all_feeds
from jobs.events import dispatch_events
from jobs.measure import count_all, drain_hits, purge_expired
from jobs.rollups import refresh_all_rollups
from jobs.reports import TICK_INTERVAL, queue_due_reports
from jobs.webhooks import SWEEP_INTERVAL, sweep_due_webhooks
from services.errors import ConfigError
from services.settings import Settings, load_settings

logger = logging.getLogger(__name__)

MAX_SLEEP = 60.0  # the in-process loop wakes at least this often, so Ctrl-C and clock changes are noticed
# While Redis is away the scheduler checks for it after 1 s, then 2, 4, ... up to every 30 s.
RECONNECT_FIRST_WAIT = 1.0
RECONNECT_MAX_WAIT = 30.0
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)


@dataclass(frozen=True)
class Periodic:
    """A job run on a timetable: every `interval` seconds, or on a `cron` expression (UTC)."""

    func: Callable[..., Any]
    queue: str
    interval: int | None = None
    cron: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.queue not in QUEUES:
            raise ValueError(f"unknown queue {self.queue!r}")
        if (self.interval is None) == (self.cron is None):
            raise ValueError("give exactly one of interval and cron")

    def next_run(self, after: float) -> float:
        if self.interval is not None:
            return after + self.interval
        return croniter(self.cron, datetime.fromtimestamp(after, timezone.utc)).get_next(float)


# Every periodic job, in one place; add new ones here.
SCHEDULE: tuple[Periodic, ...] = (
    Periodic(drain_hits, "ingest", interval=30),
    Periodic(count_all, "measure", interval=5 * 60),
    Periodic(refresh_all_rollups, "measure", interval=60 * 60),
    Periodic(refresh_all_feeds, "imports", interval=30 * 60),
    Periodic(purge_expired, "measure", cron="17 3 * * *"),
    Periodic(evaluate_all_alerts, "measure", interval=60 * 60),
    Periodic(sweep_due_webhooks, "notify", interval=SWEEP_INTERVAL),
    Periodic(dispatch_events, "notify", interval=60),  # the sweep: events left pending, retries after backoff
    Periodic(queue_due_reports, "notify", interval=TICK_INTERVAL),
)


class ReconnectingCronScheduler(CronScheduler):
    """RQ's CronScheduler whose goodbye does not hide why it stopped: when Redis is down, unregistering (in start()'s
    finally) is logged instead of raised, so a stop request still stops and a lost Redis still says so."""

    def register_death(self, pipeline=None) -> None:
        try:
            super().register_death(pipeline)
        except REDIS_DOWN as exc:  # its registry entry lapses: stale after 120 s without a heartbeat
            logger.warning("scheduler could not unregister: Redis is down", extra={"error": str(exc)})


def build_cron_scheduler(settings: Settings, schedule: tuple[Periodic, ...] = SCHEDULE,
                         scheduler_class: type[CronScheduler] = ReconnectingCronScheduler) -> CronScheduler:
    """An RQ CronScheduler with every periodic job registered (interval jobs first run at start)."""
    scheduler = scheduler_class(connection=get_redis(settings), logging_level=settings.log_level)
    for entry in schedule:
        scheduler.register(entry.func, entry.queue, kwargs=dict(entry.kwargs), interval=entry.interval,
                           cron=entry.cron, job_timeout=JOB_TIMEOUT, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL)
    return scheduler


def run_in_process(settings: Settings, schedule: tuple[Periodic, ...] = SCHEDULE, max_rounds: int | None = None,
                   clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> int:
    """Embedded mode: run due jobs in this process, sleep until the next is due; returns how many ran.

    Interval jobs run at start, as on RQ. `max_rounds` bounds the loop (tests); otherwise it runs until interrupted."""
    start = clock()
    due = [start if entry.interval is not None else entry.next_run(start) for entry in schedule]
    runs = rounds = 0
    while max_rounds is None or rounds < max_rounds:
        now = clock()
        for i, entry in enumerate(schedule):
            if due[i] <= now:
                handle = enqueue(entry.func, queue=entry.queue, settings=settings, **entry.kwargs)
                logger.info("periodic job ran", extra={"job_id": handle.id, "status": handle.status,
                                                       "func": entry.func.__name__})
                due[i] = entry.next_run(now)
                runs += 1
        rounds += 1
        if (max_rounds is None or rounds < max_rounds) and due:
            sleep(min(max(min(due) - clock(), 0.0), MAX_SLEEP))
    return runs


def reconnect_waits(first: float = RECONNECT_FIRST_WAIT, cap: float = RECONNECT_MAX_WAIT) -> Iterator[float]:
    """Seconds to wait before each check for Redis: doubling from `first`, never more than `cap`."""
    wait = first
    while True:
        yield min(wait, cap)
        wait = min(wait * 2, cap)


def run_cron(settings: Settings, build: Callable[[Settings], CronScheduler] = build_cron_scheduler,
             sleep: Callable[[float], None] = time.sleep, ping: Callable[[], object] | None = None) -> int:
    """Run a CronScheduler until asked to stop (Ctrl-C, SIGTERM); when Redis stops answering, wait until it answers
    `ping` again (capped exponential backoff) and start a new one. Returns how many schedulers were started.

    A new scheduler runs its interval jobs at once, as after any start: each is safe to run early."""
    ping = ping or get_redis(settings).ping
    started = 0
    try:
        while True:
            try:
                scheduler = build(settings)
                started += 1
                scheduler.start()
                return started  # start() returns when asked to stop (it handles SIGINT and SIGTERM itself)
            except REDIS_DOWN as exc:
                logger.warning("scheduler lost Redis; waiting for it", extra={"error": str(exc)})
            _wait_for_redis(ping, sleep)
    except (KeyboardInterrupt, StopRequested):  # a stop while waiting (the last scheduler's handler raises the latter)
        return started


def _wait_for_redis(ping: Callable[[], object], sleep: Callable[[float], None]) -> None:
    for wait in reconnect_waits():
        sleep(wait)
        try:
            ping()
        except REDIS_DOWN:
            logger.warning("Redis still down", extra={"waited_s": wait})
            continue
        logger.info("Redis is back: starting a new scheduler")
        return


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"jobs.scheduler: {exc.message}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level)
    context.set_settings(settings)
    signal.signal(signal.SIGTERM, _interrupt)  # stop as on Ctrl-C when a process manager asks
    try:
        if settings.redis_url is None:
            logger.info("no REDIS_URL: running periodic jobs in this process")
            run_in_process(settings)
        else:
            run_cron(settings)
    except KeyboardInterrupt:
        logger.info("scheduler stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
