"""Tests for jobs.scheduler (the SCHEDULE, the in-process loop, the RQ cron registration) and jobs.worker's start-up."""
from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from jobs import scheduler, worker
from jobs.rollups import refresh_all_rollups
from jobs.scheduler import MAX_SLEEP, SCHEDULE, Periodic, build_cron_scheduler, run_in_process

logger = logging.getLogger(__name__)

calls: list[str] = []


def tick(label: str = "tick") -> None:
    calls.append(label)


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_schedule_drains_counts_and_refreshes_on_their_queues():
    timetable = {e.func.__name__: (e.queue, e.interval or e.cron) for e in SCHEDULE}
    assert timetable == {"drain_hits": ("ingest", 30), "count_all": ("measure", 300),
                         "refresh_all_rollups": ("measure", 3600), "refresh_all_feeds": ("imports", 1800),
                         "purge_expired": ("measure", "17 3 * * *"), "evaluate_all_alerts": ("measure", 3600),
                         "sweep_due_webhooks": ("notify", 10), "dispatch_events": ("notify", 60),
                         "queue_due_reports": ("notify", 300)}
    assert any(e.func is refresh_all_rollups for e in SCHEDULE)


@pytest.mark.parametrize("kwargs", [{}, {"interval": 60, "cron": "* * * * *"}])
def test_periodic_needs_exactly_one_timetable(kwargs):
    with pytest.raises(ValueError, match="exactly one"):
        Periodic(tick, "default", **kwargs)


def test_periodic_rejects_unknown_queue():
    with pytest.raises(ValueError, match="unknown queue"):
        Periodic(tick, "emails", interval=60)


def test_in_process_loop_runs_interval_jobs_at_start_then_on_time(settings):
    calls.clear()
    clock = FakeClock()
    schedule = (Periodic(tick, "default", interval=90, kwargs={"label": "a"}),
                Periodic(tick, "measure", interval=150, kwargs={"label": "b"}))

    runs = run_in_process(settings, schedule, max_rounds=4, clock=clock, sleep=clock.sleep)

    # t=0: a and b; t=90: a; t=150: b. Sleeps are capped at MAX_SLEEP so the loop stays interruptible.
    assert calls == ["a", "b", "a", "b"] and runs == 4
    assert clock.sleeps == [MAX_SLEEP, 30.0, MAX_SLEEP]


def test_in_process_loop_waits_for_cron_jobs(settings):
    calls.clear()
    start = 1_700_000_000.0 - 1_700_000_000.0 % 3600 + 1  # one second past the hour
    clock = FakeClock(start)
    schedule = (Periodic(tick, "default", cron="0 * * * *"),)

    run_in_process(settings, schedule, max_rounds=61, clock=clock, sleep=clock.sleep)

    assert calls == ["tick"]  # at the top of the next hour, not at start
    assert clock.now == start + 3599
    assert max(clock.sleeps) == MAX_SLEEP


def test_cron_scheduler_registers_every_periodic_job(settings):
    with_redis = replace(settings, redis_url="redis://127.0.0.1:6399/9")  # never connected: registration is local

    registered = build_cron_scheduler(with_redis).get_jobs()

    assert [(j.func_name, j.queue_name, j.interval, j.cron) for j in registered] == [
        (f"{e.func.__module__}.{e.func.__name__}", e.queue, e.interval, e.cron) for e in SCHEDULE]


def test_worker_refuses_to_start_without_redis(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "s" * 32)

    assert worker.main([]) == 2
    assert "REDIS_URL is not set" in capsys.readouterr().err


def test_worker_rejects_unknown_queues():
    with pytest.raises(SystemExit) as exit_info:
        worker.parse_args(["measure", "emails"])
    assert exit_info.value.code == 2


def test_worker_defaults_to_every_queue_in_order():
    assert worker.parse_args([]).queues == []
    assert scheduler.QUEUES[0] == "ingest" and scheduler.QUEUES[-1] == "default"
