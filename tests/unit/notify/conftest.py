"""Alert rules on SQLite: the campaign services' small network (two shows with weekly episodes, sponsors, a second
tenant), with daily rollups, delivery rows and log imports written directly, so each metric has a known answer."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from services.models import (
    Campaign, CampaignMetric, DomainEvent, EpisodeDailyMetric, LogImport, Placement, PodcastDailyMetric,
)
from services.notify import alerts
from tests.unit.campaigns.conftest import ANCHOR, Network, migrated_template, network  # noqa: F401 (fixtures)

NOW = datetime.combine(ANCHOR, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=12)  # 2026-06-15 12:00


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def put_show_days(net: Network, podcast_id: int, per_day: dict[date, int], tenant_id: int | None = None) -> None:
    tenant_id = tenant_id or net.tenant_id
    with net.db.session(tenant_id) as s:
        s.add_all([PodcastDailyMetric(tenant_id=tenant_id, podcast_id=podcast_id, day=d, downloads=n, listeners=n)
                   for d, n in per_day.items()])
        s.commit()


def put_episode_days(net: Network, podcast_id: int, episode_id: int, per_day: dict[date, int]) -> None:
    with net.db.session(net.tenant_id) as s:
        s.add_all([EpisodeDailyMetric(tenant_id=net.tenant_id, podcast_id=podcast_id, episode_id=episode_id, day=d,
                                      downloads=n, listeners=n) for d, n in per_day.items()])
        s.commit()


def put_campaign(net: Network, per_day: dict[date, int], status: str = "live", goal: int = 30000,
                 start: date = date(2026, 6, 1), end: date = date(2026, 6, 30), name: str = "Morning Ritual") -> int:
    """A campaign on the tech show over its flight, with `per_day` impressions in its delivery rollup."""
    with net.db.session(net.tenant_id) as s:
        campaign = Campaign(tenant_id=net.tenant_id, sponsor_id=net.sponsors["coffee"], name=name, status=status,
                            start_date=start, end_date=end, goal_impressions=goal, pricing="cpm", cpm=25)
        s.add(campaign)
        s.flush()
        placement = Placement(tenant_id=net.tenant_id, campaign_id=campaign.id, podcast_id=net.podcasts["tech"],
                              start_date=start, end_date=end)
        s.add(placement)
        s.flush()
        s.add_all([CampaignMetric(tenant_id=net.tenant_id, campaign_id=campaign.id, placement_id=placement.id,
                                  episode_id=net.episodes["tech"][-1], day=d, podcast_id=net.podcasts["tech"],
                                  impressions=n, listeners=n) for d, n in per_day.items()])
        s.commit()
        return campaign.id


def put_import(net: Network, status: str, created_at: datetime, tenant_id: int | None = None) -> None:
    tenant_id = tenant_id or net.tenant_id
    with net.db.session(tenant_id) as s:
        s.add(LogImport(tenant_id=tenant_id, filename="access.log", fingerprint=f"{status}-{created_at.isoformat()}",
                        format="combined", status=status, created_at=created_at))
        s.commit()


def make_rule(net: Network, **data) -> int:
    base = {"name": "Watch", "window_days": 7, "channels": ["in_app"]}
    return alerts.create_rule(net.db, net.ctx("owner"), {**base, **data}).id


def events(net: Network, type_: str, tenant_id: int | None = None) -> list[dict]:
    with net.db.session(tenant_id or net.tenant_id) as s:
        return [e.payload for e in s.scalars(select(DomainEvent).where(
            DomainEvent.tenant_id == (tenant_id or net.tenant_id), DomainEvent.type == type_)
            .order_by(DomainEvent.id))]


def count_rows(net: Network, model, tenant_id: int | None = None) -> int:
    with net.db.session(tenant_id or net.tenant_id) as s:
        return s.scalar(select(func.count()).select_from(model).where(model.tenant_id == (tenant_id or
                                                                                           net.tenant_id)))


@pytest.fixture
def net(request) -> Network:
    """The campaign services' network (its fixture, imported above)."""
    return request.getfixturevalue("network")
