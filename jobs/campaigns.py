"""Campaign delivery jobs: rebuild one campaign's campaign_metrics, or every campaign of a tenant whose flight is
still open to new downloads (after counting, followed by the under-pacing notices and the alert rules' evaluation).
Idempotent: each rebuild replaces the campaign's rows."""
from __future__ import annotations

import logging
from datetime import date

from jobs.alerts import after_delivery_refresh
from jobs.attribution import after_counting
from jobs.context import get_db
from jobs.progress import annotate, report_progress
from services.sponsorship import delivery

logger = logging.getLogger(__name__)


def refresh_campaign_delivery(tenant_id: int, campaign_id: int) -> int:
    """After a placement change: the campaign's delivery from the counted downloads; returns impressions."""
    annotate(tenant_id=tenant_id)
    impressions = delivery.refresh_campaign(get_db(), tenant_id, campaign_id)
    report_progress(1.0, f"{impressions} impressions")
    return impressions


def refresh_tenant_delivery(tenant_id: int, since_iso: str | None = None) -> list[int]:
    """After counting: every campaign with a placement flying on or after `since_iso` (all when None)."""
    annotate(tenant_id=tenant_id)
    db = get_db()
    ids = delivery.campaigns_to_refresh(db, tenant_id, date.fromisoformat(since_iso) if since_iso else None)
    for done, campaign_id in enumerate(ids, start=1):
        delivery.refresh_campaign(db, tenant_id, campaign_id)
        report_progress(done / len(ids), f"refreshed {done} of {len(ids)} campaigns")
    after_counting(tenant_id, ids)  # new exposures: their conversions are matched again
    after_delivery_refresh(tenant_id, ids)  # pacing notices, then the alert rules on the new counts
    return ids
