"""Integration: on a real RQ worker, counting queues the campaign delivery refresh on `measure`, which rebuilds
campaign_metrics on PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from jobs.measure import count_tenant
from jobs.queues import enqueue, job_status
from services.models import CampaignMetric, CampaignReach
from tests.integration.workers import burst_worker


def _totals(db, tenant_id):
    with db.session(tenant_id) as s:
        return (s.scalar(select(func.coalesce(func.sum(CampaignMetric.impressions), 0))),
                s.scalar(select(func.count()).select_from(CampaignReach)))


@pytest.fixture
def pg_url(seeded_pg):
    """pg_jobs's database: a copy of the run's seeded demo template rather than an empty one."""
    return seeded_pg[0]


def test_counting_on_rq_refreshes_campaign_delivery(pg_jobs, seeded_pg):
    settings, db = pg_jobs
    tenant_id = seeded_pg[1]["tenant_id"]
    seeded = _totals(db, tenant_id)
    assert seeded[0] > 0
    with db.session(tenant_id) as s:
        s.execute(delete(CampaignMetric))
        s.execute(delete(CampaignReach))
        s.commit()
    counting = enqueue(count_tenant, tenant_id, "2020-01-01", queue="measure", settings=settings)
    burst_worker(settings, "measure")
    assert job_status(counting.id, settings).status == "finished"
    assert _totals(db, tenant_id) == seeded  # the refresh the count queued ran on the same burst
