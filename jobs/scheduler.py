"""Scheduler entry point: `python -m jobs.scheduler` enqueues the periodic jobs in SCHEDULE.

With Redis it runs an RQ CronScheduler (workers do the work); without Redis it runs the same functions in
this process on the same timetable, until Ctrl-C.
"""
from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from croniter import croniter
from rq.cron import CronScheduler

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


def build_cron_scheduler(settings: Settings, schedule: tuple[Periodic, ...] = SCHEDULE) -> CronScheduler:
    """An RQ CronScheduler with every periodic job registered (interval jobs first run at start)."""
    scheduler = CronScheduler(connection=get_redis(settings), logging_level=settings.log_level)
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
    try:
        if settings.redis_url is None:
            logger.info("no REDIS_URL: running periodic jobs in this process")
            signal.signal(signal.SIGTERM, _interrupt)  # stop as on Ctrl-C when a process manager asks
            run_in_process(settings)
        else:
            build_cron_scheduler(settings).start()
    except KeyboardInterrupt:
        logger.info("scheduler stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
