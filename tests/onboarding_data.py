"""Writes the rows each getting-started step is ticked by, for one tenant (unit and integration tests share it)."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

from services.db import Database
from services.models import (
    CampaignMetric, DownloadRequest, LogImport, Placement, Podcast, PodcastDailyMetric,
)


def add(db: Database, tenant_id: int, step: str, podcast_id: int | None = None) -> int | None:
    """Add the data behind `step` (feed, prefix, logs, downloads, delivery) for the tenant; returns the new
    podcast's id for 'feed'. Sponsors, campaigns and placements go through their services instead."""
    now = datetime.now(timezone.utc)
    with db.session(tenant_id) as s:
        if step == "feed":
            row = Podcast(tenant_id=tenant_id, title="Fresh Show", feed_url="https://fresh.example/feed.xml",
                          prefix_key=uuid.uuid4().hex[:16])
            s.add(row)
            s.flush()
            new_id = row.id
        elif step == "prefix":
            s.add(DownloadRequest(request_uid=uuid.uuid4().hex, ts=now, tenant_id=tenant_id, podcast_id=podcast_id,
                                  source="prefix", method="GET", status=None, url="https://fresh.example/ep1.mp3",
                                  listener_key="k" * 32))
        elif step == "logs":
            s.add(LogImport(tenant_id=tenant_id, filename="access.log", fingerprint=uuid.uuid4().hex, format="combined",
                            status="completed"))
        elif step == "downloads":
            s.add(PodcastDailyMetric(tenant_id=tenant_id, podcast_id=podcast_id, day=date.today(), downloads=3,
                                     listeners=2))
        elif step == "delivery":  # podcast_id: the campaign id here; its first placement delivered
            placement = s.query(Placement).filter_by(tenant_id=tenant_id, campaign_id=podcast_id).first()
            s.add(CampaignMetric(tenant_id=tenant_id, campaign_id=podcast_id, placement_id=placement.id, episode_id=0,
                                 day=date.today(), podcast_id=placement.podcast_id, impressions=5, listeners=4))
        s.commit()
    return new_id if step == "feed" else None


def walk_through_checklists(db: Database, fresh_id: int, other_id: int, writer: Database | None = None) -> None:
    """The fresh tenant ticks each step with its own data; the other tenant (already running: podcasts, downloads,
    sponsors, delivery) never ticks the fresh tenant's steps, and the fresh tenant's data never shows in the other's.
    `writer` writes the raw rows (on PostgreSQL the app role reads the time series through tenant views only)."""
    import pytest

    from services.dashboards.onboarding import onboarding_status
    from services.errors import PermissionDenied
    from services.sponsorship import campaigns, placements, sponsors
    from services.tenancy import TenantContext

    fresh, other = TenantContext(fresh_id, "owner"), TenantContext(other_id, "owner")
    writer = writer or db

    def ticks(ctx=fresh) -> dict:
        status = onboarding_status(db, ctx)
        return {step.key: step.done for step in status.podcast_steps + status.sponsor_steps}

    running = onboarding_status(db, other)
    assert all(step.done for step in running.podcast_steps if step.key != "logs")
    assert not running.podcast_side_open
    assert not any(ticks().values())  # the other tenant's podcasts, hits, downloads and sponsors tick nothing here
    assert onboarding_status(db, fresh).podcast_side_open and onboarding_status(db, fresh).first_prefix_key is None

    podcast_id = add(writer, fresh_id, "feed")
    assert ticks() == {"feed": True, "prefix": False, "logs": False, "downloads": False, "sponsor": False,
                       "campaign": False, "placement": False, "delivery": False}
    add(writer, fresh_id, "prefix", podcast_id)
    add(writer, fresh_id, "logs")
    assert [k for k, v in ticks().items() if v] == ["feed", "prefix", "logs"]
    add(writer, fresh_id, "downloads", podcast_id)
    status = onboarding_status(db, fresh)
    assert not status.podcast_side_open and status.sponsor_side_open  # on to the sponsor side

    sponsor = sponsors.create_sponsor(db, fresh, {"name": "Fresh Sponsor", "website": "https://sponsor.example"})
    campaign = campaigns.create_campaign(db, fresh, {
        "sponsor_id": sponsor.id, "name": "Fresh Flight", "cpm": "20", "goal_impressions": "1000",
        "start_date": date.today().isoformat(), "end_date": date.today().isoformat()})
    assert [k for k, v in ticks().items() if not v] == ["placement", "delivery"]
    placements.create_placement(db, fresh, campaign.id, {"podcast_id": podcast_id})
    add(writer, fresh_id, "delivery", campaign.id)
    assert all(ticks().values()) and not onboarding_status(db, fresh).sponsor_side_open

    # The fresh tenant's steps did not change the other tenant's, and a sponsor user sees no checklist at all.
    assert ticks(other) == {step.key: step.done for step in running.podcast_steps + running.sponsor_steps}
    with pytest.raises(PermissionDenied):
        onboarding_status(db, TenantContext(fresh_id, "sponsor", sponsor_id=sponsor.id))
