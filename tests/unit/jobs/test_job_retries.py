"""Tests for the retry policy of idempotent jobs: counting and its follow-up refreshes carry IDEMPOTENT_RETRY, and
workers run their maintenance (which requeues abandoned jobs) every MAINTENANCE_INTERVAL."""
from __future__ import annotations

import logging

import pytest

from jobs import measure, worker
from jobs.queues import IDEMPOTENT_RETRY, JobHandle

logger = logging.getLogger(__name__)

pytestmark = pytest.mark.timeout(30)


def test_idempotent_retry_waits_then_gives_up():
    assert IDEMPOTENT_RETRY.max == 3
    assert IDEMPOTENT_RETRY.intervals == [15, 60, 300]


def test_count_all_enqueues_each_count_with_the_retry_policy(monkeypatch):
    calls: list[tuple] = []

    def fake_enqueue(func, *args, **kwargs):
        calls.append((func, args, kwargs))
        return JobHandle(id=f"job-{len(calls)}", status="queued")

    monkeypatch.setattr(measure, "enqueue", fake_enqueue)
    monkeypatch.setattr(measure.accounts, "tenant_ids", lambda _db: [3, 7])
    monkeypatch.setattr(measure, "get_db", lambda: None)

    assert measure.count_all() == ["job-1", "job-2"]
    assert [(f, a, k) for f, a, k in calls] == [
        (measure.count_tenant, (3, None, None), {"queue": "measure", "retry": IDEMPOTENT_RETRY}),
        (measure.count_tenant, (7, None, None), {"queue": "measure", "retry": IDEMPOTENT_RETRY})]


def test_worker_runs_maintenance_every_minute(monkeypatch, tmp_path):
    built: list[dict] = []

    class FakeWorker:
        def __init__(self, queues, **kwargs):
            built.append(kwargs)

        def work(self, **kwargs):
            built.append(kwargs)

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6399/9")  # never connected: the fake worker does not work
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    monkeypatch.setattr(worker, "preload", lambda: None)
    monkeypatch.setattr(worker, "TracedWorker", FakeWorker)

    assert worker.main(["--burst", "measure"]) == 0
    assert built[0]["maintenance_interval"] == worker.MAINTENANCE_INTERVAL == 60
    assert built[1]["burst"] is True and built[1]["with_scheduler"] is True
