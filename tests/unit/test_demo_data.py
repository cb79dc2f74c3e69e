"""The demo network is deterministic and believable: release spikes, weekday rhythm, a mix of apps."""
from datetime import date, datetime, timezone

import pandas as pd
from sqlalchemy import func, select, text

from services import accounts, demo
from services.models import Campaign, Episode, Placement, Podcast, Sponsor


def test_catalog_is_deterministic():
    a = demo.generate_catalog(date(2026, 1, 1))
    b = demo.generate_catalog(date(2026, 1, 1))
    pd.testing.assert_frame_equal(a, b)
    assert 140 <= len(a) <= 160


def test_demo_tenant_shape(db):
    tenant = accounts.get_tenant_by_slug(db, demo.DEMO_SLUG)
    assert tenant.name == "Demo Network"
    with db.session(tenant.id) as s:
        assert s.scalar(select(func.count(Podcast.id))) == 3
        assert 140 <= s.scalar(select(func.count(Episode.id))) <= 160
        assert s.scalar(select(func.count(Sponsor.id))) == 2
        assert s.scalar(select(func.count(Campaign.id))) == 3
        assert s.scalar(select(func.count(Placement.id))) >= 3
        first = s.scalar(select(func.min(Episode.published_at)))
        span = datetime.now(timezone.utc) - first.replace(tzinfo=timezone.utc)
        assert 700 <= span.days <= 731
        rows = s.execute(text("SELECT d.ts, e.published_at, d.app, d.country FROM downloads d "
                              "JOIN episodes e ON e.id = d.episode_id")).all()
    frame = pd.DataFrame(rows, columns=["ts", "published", "app", "country"])
    ts = pd.to_datetime(frame.ts, utc=True, format="mixed")
    age_days = (ts - pd.to_datetime(frame.published, utc=True, format="mixed")).dt.days
    assert (age_days >= 0).all()
    assert (age_days < 7).mean() > 0.4  # release spike
    weekday = ts.dt.day_of_week.value_counts(normalize=True)
    assert weekday[[0, 1, 2]].mean() > weekday[[5, 6]].mean()  # weekday rhythm
    assert frame.app.nunique() >= 8 and frame.country.nunique() >= 10
    assert frame.app.value_counts(normalize=True).iloc[0] < 0.6


def test_seeding_twice_changes_nothing(db):
    result = demo.seed_demo(db)
    assert result["created"] is False
