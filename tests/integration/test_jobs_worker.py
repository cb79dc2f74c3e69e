"""Integration: jobs enqueued through jobs.queues run on real RQ workers against real Redis and PostgreSQL."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from redis import Redis
from sqlalchemy import select, text

from jobs import context
from jobs.demo import seed_demo_data
from jobs.queues import JobHandle, enqueue, job_counts, job_status
from jobs.rollups import refresh_all_rollups
from services.db import Database
from services.migrate import upgrade
from services.models import EpisodeDailyMetric, Tenant
from services.settings import Settings, load_settings
from tests.integration.conftest import create_database, drop_database

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKER_TIMEOUT = 300


@pytest.fixture(scope="module")
def jobs_redis_url(redis_url) -> Iterator[str]:
    yield redis_url
    Redis.from_url(redis_url).flushdb()


@pytest.fixture(scope="module")
def jobs_database_url(postgres_available) -> Iterator[str]:
    """A freshly created, migrated PostgreSQL database, dropped afterwards."""
    name, url = create_database()
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(name)


# --- fixtures ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def settings(jobs_redis_url: str, jobs_database_url: str, tmp_path_factory) -> Settings:
    return load_settings(worker_env(jobs_redis_url, jobs_database_url, tmp_path_factory.mktemp("instance")))


@pytest.fixture(scope="module")
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url, settings.db_app_role)
    yield database
    database.dispose()


@pytest.fixture(autouse=True)
def job_context(settings: Settings, db: Database) -> Iterator[None]:
    context.set_settings(settings)
    context.set_db(db)
    yield
    context.reset()


def worker_env(redis_url: str, database_url: str, instance: Path) -> dict[str, str]:
    return {"REDIS_URL": redis_url, "DATABASE_URL": database_url, "SECRET_KEY": "integration-" + "k" * 24,
            "INSTANCE_PATH": str(instance)}


def run_worker(settings: Settings, *command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **worker_env(settings.redis_url, settings.database_url, settings.instance_path),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, *command], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=WORKER_TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@dataclass
class Seeding:
    queued: JobHandle
    counts_before: dict[tuple[str, str], int]
    worker: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def seeding(settings: Settings, db: Database) -> Seeding:
    """Enqueue the demo seed through jobs.queues and drain the queue with the stock `rq worker --burst`."""
    context.set_settings(settings)
    redis.Redis.from_url(settings.redis_url).flushdb()  # no job left queued by an earlier module's test
    queued = enqueue(seed_demo_data, queue="default", settings=settings)
    counts_before = job_counts(settings)
    worker = run_worker(settings, "-m", "rq.cli", "worker", "--burst", "-u", settings.redis_url, "default")
    return Seeding(queued, counts_before, worker)


# --- tests ------------------------------------------------------------------------------------------------------

def test_enqueue_puts_the_job_on_redis(seeding: Seeding):
    assert seeding.queued.status == "queued" and seeding.queued.queue == "default"
    assert seeding.counts_before[("default", "queued")] == 1


def test_rq_worker_runs_the_demo_seed_and_stores_progress(seeding: Seeding, settings: Settings, db: Database):
    handle = job_status(seeding.queued.id, settings)

    assert handle is not None
    assert handle.status == "finished", handle.error or seeding.worker.stderr
    assert handle.meta["progress"] == 1.0
    assert handle.result["created"] is True and handle.result["downloads"] > 0
    with db.session(system=True) as s:
        tenant_id = s.scalar(select(Tenant.id).where(Tenant.slug == "demo"))
        assert tenant_id == handle.result["tenant_id"]
    with db.session(tenant_id) as s:  # what the tenant itself sees through its view (the web role's only way in)
        assert s.scalar(text("SELECT count(*) FROM tenant_downloads")) == handle.result["downloads"]
    counts = job_counts(settings)
    assert counts[("default", "finished")] == 1 and counts[("default", "queued")] == 0


def test_periodic_rollup_refresh_fans_out_on_the_project_worker(seeding: Seeding, settings: Settings, db: Database):
    tenant_id = job_status(seeding.queued.id, settings).result["tenant_id"]
    with db.session(tenant_id, worker=True) as s:  # the rollups are the workers' to write
        s.execute(EpisodeDailyMetric.__table__.delete().where(EpisodeDailyMetric.tenant_id == tenant_id))
        s.commit()
    fan_out = enqueue(refresh_all_rollups, None, queue="measure", settings=settings)

    run_worker(settings, "-m", "jobs.worker", "--burst", "measure")

    done = job_status(fan_out.id, settings)
    assert done is not None and done.status == "finished", done and done.error
    assert len(done.result) == 1
    refresh = job_status(done.result[0], settings)
    assert refresh.status == "finished" and refresh.meta["progress"] == 1.0
    with db.session(tenant_id) as s:
        assert s.scalar(text("SELECT count(*) FROM tenant_episode_daily_metrics")) > 0
