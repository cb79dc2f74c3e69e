"""The attribution jobs in embedded mode: in-process runs with progress, the once-a-minute throttle on arriving
conversions, and the chain after a delivery refresh."""
from __future__ import annotations

from sqlalchemy import func, select

from jobs import attribution as jobs
from jobs.campaigns import refresh_tenant_delivery
from services.models.attribution import AttributionRun


def _runs(db, sc) -> int:
    with db.session(sc.tenant_id) as s:
        return s.scalar(select(func.count()).select_from(AttributionRun)
                        .where(AttributionRun.campaign_id == sc.campaign_id))


def test_recompute_runs_in_process_with_progress(app, db, brew):
    handle = jobs.enqueue_campaign(brew.tenant_id, brew.campaign_id)
    assert handle.status == "finished", handle.error
    assert handle.meta["progress"] == 1.0 and handle.result["touchpoints"] == 5


def test_arriving_conversions_attribute_a_sponsor_at_most_once_a_minute(app, db, brew, monkeypatch):
    jobs._recent.clear()
    first = jobs.conversions_arrived(brew.tenant_id, brew.sponsor_id)
    assert first is not None and first.status == "finished" and _runs(db, brew) == 1
    assert jobs.conversions_arrived(brew.tenant_id, brew.sponsor_id) is None and _runs(db, brew) == 1
    later = jobs.time.monotonic() + jobs.THROTTLE_SECONDS + 1
    monkeypatch.setattr(jobs.time, "monotonic", lambda: later)
    assert jobs.conversions_arrived(brew.tenant_id, brew.sponsor_id) is not None and _runs(db, brew) == 2


def test_a_delivery_refresh_after_counting_attributes_its_campaigns(app, db, brew):
    assert refresh_tenant_delivery(brew.tenant_id) == [brew.campaign_id]
    assert _runs(db, brew) == 1
