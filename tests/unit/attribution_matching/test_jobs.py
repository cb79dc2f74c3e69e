"""The attribution jobs in embedded mode: in-process runs with progress, the once-a-minute throttle on arriving
conversions, and the chain after a delivery refresh."""
from __future__ import annotations

from sqlalchemy import func, select

from jobs import attribution as jobs
from jobs.campaigns import refresh_tenant_delivery
from services.models import Sponsor
from services.models.attribution import AttributionRun
from services.sponsorship.attribution import pixel


def _runs(db, sc) -> int:
    with db.session(sc.tenant_id) as s:
        return s.scalar(select(func.count()).select_from(AttributionRun)
                        .where(AttributionRun.campaign_id == sc.campaign_id))


def test_recompute_runs_in_process_with_progress(app, db, brew):
    handle = jobs.enqueue_campaign(brew.tenant_id, brew.campaign_id)
    assert handle.status == "finished", handle.error
    assert handle.meta["progress"] == 1.0 and handle.result["touchpoints"] == 5


def test_arriving_conversions_attribute_a_sponsor_at_most_once_a_minute(app, db, brew, monkeypatch):
    """The first arrival runs at once; later ones in the window leave exactly one run for the window's end (so the
    burst's last conversions are attributed within the minute); a new window runs at once again."""
    jobs._recent.clear()
    jobs._scheduled.clear()
    timers = []
    monkeypatch.setattr(jobs, "_start_timer", lambda wait, run: timers.append((wait, run)))
    first = jobs.conversions_arrived(brew.tenant_id, brew.sponsor_id)
    assert first is not None and first.status == "finished" and _runs(db, brew) == 1
    assert jobs.conversions_arrived(brew.tenant_id, brew.sponsor_id) is None and _runs(db, brew) == 1
    assert jobs.conversions_arrived(brew.tenant_id, brew.sponsor_id) is None
    assert len(timers) == 1 and 0 < timers[0][0] <= jobs.THROTTLE_SECONDS
    timers[0][1]()  # the window's end
    assert _runs(db, brew) == 2
    jobs.conversions_arrived(brew.tenant_id, brew.sponsor_id)  # right after the trailing run: scheduled again
    assert len(timers) == 2 and _runs(db, brew) == 2
    later = jobs.time.monotonic() + jobs.THROTTLE_SECONDS + 1
    monkeypatch.setattr(jobs.time, "monotonic", lambda: later)
    jobs._scheduled.clear()
    assert jobs.conversions_arrived(brew.tenant_id, brew.sponsor_id) is not None and _runs(db, brew) == 3


def test_new_pixel_events_re_attribute_their_sponsor_and_a_replay_does_not(app, db, brew, monkeypatch):
    calls = []
    monkeypatch.setattr(jobs, "conversions_arrived", lambda tenant_id, sponsor_id: calls.append((tenant_id, sponsor_id)))
    with db.session(brew.tenant_id) as s:
        key = s.get(Sponsor, brew.sponsor_id).pixel_key
    record = pixel.pixel_record({"k": key, "e": "purchase", "id": "px-1", "v": "12.5"}, "203.0.113.9")
    assert jobs.store_pixel_records(db, [record]) == 1
    assert calls == [(brew.tenant_id, brew.sponsor_id)]
    assert jobs.store_pixel_records(db, [record]) == 0 and len(calls) == 1  # a duplicate is not news


def test_a_delivery_refresh_after_counting_attributes_its_campaigns(app, db, brew):
    assert refresh_tenant_delivery(brew.tenant_id) == [brew.campaign_id]
    assert _runs(db, brew) == 1
