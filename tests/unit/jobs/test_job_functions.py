"""Tests for the job functions (jobs.demo, jobs.rollups) and jobs.context, run in-process on a temp SQLite database."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from jobs import context
from jobs.demo import seed_demo_data
from jobs.queues import JobHandle, enqueue, job_status
from jobs.rollups import refresh_all_rollups, refresh_rollups
from services.db import Database
from services.migrate import upgrade
from services.models import Download, EpisodeDailyMetric, Tenant
from services.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class Seeded:
    settings: Settings
    db: Database
    handle: JobHandle


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, make_settings) -> Iterator[Seeded]:
    """The demo tenant, seeded once for this module through the job, in-process."""
    settings = make_settings(tmp_path_factory.mktemp("demo"))
    upgrade(settings.database_url)
    db = Database(settings.database_url)
    context.set_settings(settings)
    context.set_db(db)
    handle = enqueue(seed_demo_data, "demo-password-1")
    yield Seeded(settings, db, handle)
    db.dispose()


@pytest.fixture
def demo(seeded: Seeded) -> Seeded:
    context.set_settings(seeded.settings)
    context.set_db(seeded.db)
    return seeded


def _episode_day_rows(db: Database, tenant_id: int, since: date | None = None) -> int:
    with db.session(tenant_id) as s:
        stmt = select(func.count()).select_from(EpisodeDailyMetric).where(EpisodeDailyMetric.tenant_id == tenant_id)
        if since:
            stmt = stmt.where(EpisodeDailyMetric.day >= since)
        return s.scalar(stmt)


def test_seed_demo_data_reports_progress_and_creates_the_tenant(demo):
    assert demo.handle.status == "finished", demo.handle.error
    assert demo.handle.meta == {"progress": 1.0, "message": "demo data ready"}
    result = demo.handle.result
    assert result["created"] is True and result["downloads"] > 0
    with demo.db.session(system=True) as s:
        assert s.scalar(select(Tenant.slug).where(Tenant.id == result["tenant_id"])) == "demo"
        assert s.scalar(select(func.count()).select_from(Download)) == result["downloads"]


def test_seed_demo_data_again_is_a_no_op(demo):
    handle = enqueue(seed_demo_data)

    assert handle.status == "finished"
    assert handle.result["created"] is False
    assert handle.meta == {"progress": 1.0, "message": "demo data already present"}


def test_refresh_rollups_rebuilds_a_tenants_rollups(demo):
    tenant_id = demo.handle.result["tenant_id"]
    expected = _episode_day_rows(demo.db, tenant_id)
    with demo.db.session(tenant_id) as s:
        s.execute(EpisodeDailyMetric.__table__.delete().where(EpisodeDailyMetric.tenant_id == tenant_id))
        s.commit()

    handle = enqueue(refresh_rollups, tenant_id, queue="measure")

    assert handle.status == "finished", handle.error
    assert handle.result == expected > 0
    assert handle.progress == 1.0
    assert _episode_day_rows(demo.db, tenant_id) == expected


def test_refresh_rollups_since_touches_only_recent_days(demo):
    tenant_id = demo.handle.result["tenant_id"]
    total = _episode_day_rows(demo.db, tenant_id)
    since = date.today() - timedelta(days=30)

    rows = refresh_rollups(tenant_id, since.isoformat())

    assert rows == _episode_day_rows(demo.db, tenant_id, since) < total
    assert _episode_day_rows(demo.db, tenant_id) == total


def test_refresh_all_rollups_runs_one_job_per_tenant(demo):
    with demo.db.session(system=True) as s:
        s.add(Tenant(slug="empty-network", name="Empty Network"))
        s.commit()

    job_ids = refresh_all_rollups()

    assert len(job_ids) == 2
    handles = [job_status(job_id) for job_id in job_ids]
    assert all(h is not None and h.status == "finished" and h.queue == "measure" for h in handles)


def test_context_creates_one_database_from_settings_and_can_be_overridden(settings, db):
    context.set_db(None)
    first = context.get_db()
    assert context.get_db() is first
    assert first.url == settings.database_url

    context.set_db(db)
    assert context.get_db() is db
    first.dispose()
