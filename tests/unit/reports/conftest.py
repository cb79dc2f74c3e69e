"""The demo network's people (owner, admin, sponsor users of two sponsors, another tenant's owner) for the report
tests, and helpers to subscribe them and move a subscription's creation back in time."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from services.models import Campaign, Podcast, ReportRun, ReportSubscription
from tests.unit.notify.people import people_fixture  # noqa: F401 (fixture)


def campaign_of(db, tenant_id: int, sponsor_id: int) -> int:
    with db.session(tenant_id) as s:
        return s.scalar(select(Campaign.id).where(Campaign.tenant_id == tenant_id, Campaign.sponsor_id == sponsor_id)
                        .order_by(Campaign.id))


def first_show(db, tenant_id: int) -> int:
    with db.session(tenant_id) as s:
        return s.scalar(select(Podcast.id).where(Podcast.tenant_id == tenant_id).order_by(Podcast.id))


def backdate(db, subscription_id: int, days: int = 60) -> None:
    """The subscription existed long enough for its latest scheduled moment to be due."""
    with db.session(system=True) as s:
        s.execute(update(ReportSubscription).where(ReportSubscription.id == subscription_id)
                  .values(created_at=datetime.now(timezone.utc) - timedelta(days=days)))
        s.commit()


def runs(db, subscription_id: int) -> list[ReportRun]:
    with db.session(system=True) as s:
        return list(s.scalars(select(ReportRun).where(ReportRun.subscription_id == subscription_id)
                              .order_by(ReportRun.id)))


WEEKLY_NETWORK = {"kind": "network", "frequency": "weekly", "day": 1, "hour": 7}


@pytest.fixture
def outbox(demo_settings):
    return demo_settings.instance_path / "outbox"
