"""Campaign delivery jobs: counting queues the refresh; the refresh jobs are idempotent and report progress."""
from __future__ import annotations

from sqlalchemy import delete, func, select

from jobs import context
from jobs.campaigns import refresh_campaign_delivery, refresh_tenant_delivery
from jobs.measure import count_tenant
from jobs.queues import enqueue
from services.models import Campaign, CampaignMetric, CampaignReach


def _totals(db, tenant_id):
    with db.session(tenant_id) as s:
        return (s.scalar(select(func.coalesce(func.sum(CampaignMetric.impressions), 0))),
                s.scalar(select(func.count()).select_from(CampaignReach)))


def test_counting_refreshes_campaign_delivery_and_refreshes_are_idempotent(demo_db):
    db, tenant_id = demo_db
    seeded = _totals(db, tenant_id)
    assert seeded[0] > 0
    with db.session(tenant_id) as s:  # lose the rollups: counting must bring them back
        s.execute(delete(CampaignMetric))
        s.execute(delete(CampaignReach))
        s.commit()
        ids = sorted(s.scalars(select(Campaign.id)))
    assert _totals(db, tenant_id) == (0, 0)
    count_tenant(tenant_id, "2020-01-01")  # a full recount queues the tenant's delivery refresh (in-process here)
    assert _totals(db, tenant_id) == seeded

    handle = enqueue(refresh_tenant_delivery, tenant_id, None, queue="measure")
    assert handle.status == "finished" and handle.result == ids and handle.progress == 1.0
    assert _totals(db, tenant_id) == seeded
    one = enqueue(refresh_campaign_delivery, tenant_id, ids[1], queue="measure")
    assert one.status == "finished" and one.result > 0 and one.meta["tenant_id"] == tenant_id
    assert _totals(db, tenant_id) == seeded
    assert context.get_db() is db
