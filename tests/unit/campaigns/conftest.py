"""A small network on SQLite for the campaign services: two shows with episodes, three sponsors (two of them
competitors in one industry), and a second tenant. The schema is migrated once and copied per test."""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest

from services import migrate
from services.measurement import store
from services.db import Database
from services.models import Episode, Podcast, Sponsor, Tenant
from services.tenancy import TenantContext

ANCHOR = date(2026, 6, 15)  # "today" for these tests: pacing and forecasts take it as as_of


@dataclass
class Network:
    db: Database
    tenant_id: int
    other_tenant_id: int
    podcasts: dict[str, int] = field(default_factory=dict)
    episodes: dict[str, list[int]] = field(default_factory=dict)
    sponsors: dict[str, int] = field(default_factory=dict)

    def ctx(self, role: str = "owner", sponsor: str | None = None, user_id: int | None = None) -> TenantContext:
        return TenantContext(tenant_id=self.tenant_id, role=role, user_id=user_id,
                             sponsor_id=self.sponsors[sponsor] if sponsor else None)

    def other(self, role: str = "owner") -> TenantContext:
        return TenantContext(tenant_id=self.other_tenant_id, role=role)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("campaigns-template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def network(tmp_path, migrated_template) -> Network:
    path = tmp_path / "network.db"
    shutil.copy(migrated_template, path)
    db = Database(f"sqlite:///{path}")
    with db.session(system=True) as s:
        tenant, other = Tenant(slug="net", name="Net"), Tenant(slug="other", name="Other")
        s.add_all([tenant, other])
        s.flush()
        net = Network(db=db, tenant_id=tenant.id, other_tenant_id=other.id)
        for key, title, category in (("tech", "Tech Talk", "Technology"), ("biz", "Biz Daily", "Business")):
            podcast = Podcast(tenant_id=tenant.id, title=title, category=category, prefix_key=f"key-{key}")
            s.add(podcast)
            s.flush()
            net.podcasts[key] = podcast.id
            eps = []
            for n in range(6):  # weekly, the last one a week before ANCHOR
                published = datetime.combine(ANCHOR - timedelta(days=7 * (6 - n)), datetime.min.time(),
                                             tzinfo=timezone.utc) + timedelta(hours=9)
                episode = Episode(tenant_id=tenant.id, podcast_id=podcast.id, guid=f"{key}-{n}", title=f"{title} #{n}",
                                  published_at=published)
                s.add(episode)
                s.flush()
                eps.append(episode.id)
            net.episodes[key] = eps
        for key, name, industry in (("coffee", "Northwind Coffee", "Food & Beverage"),
                                    ("tea", "Acme Tea", "Food & Beverage"), ("vpn", "Lumen VPN", "Technology")):
            sponsor = Sponsor(tenant_id=tenant.id, name=name, industry=industry)
            s.add(sponsor)
            s.flush()
            net.sponsors[key] = sponsor.id
        other_podcast = Podcast(tenant_id=other.id, title="Elsewhere", prefix_key="key-other")
        other_sponsor = Sponsor(tenant_id=other.id, name="Other Sponsor", industry="Food & Beverage")
        s.add_all([other_podcast, other_sponsor])
        s.flush()
        net.podcasts["other"], net.sponsors["other"] = other_podcast.id, other_sponsor.id
        s.commit()
    yield net
    db.dispose()


def campaign_data(network: Network, **overrides) -> dict:
    data = {"sponsor_id": network.sponsors["coffee"], "name": "Morning Ritual", "objective": "awareness",
            "start_date": "2026-06-01", "end_date": "2026-06-30", "pricing": "cpm", "cpm": "25", "budget": "1000",
            "goal_impressions": "40000", "target_categories": "Technology, Business", "target_countries": "us, GB",
            "excluded_categories": ["News"], "landing_url": "https://northwind.example.com/pod",
            "promo_code": "ritual20"}
    data.update(overrides)
    return data


def store_downloads(network, rows: list[tuple]) -> pd.DataFrame:
    """rows: (ts, tenant_id, podcast_id, episode_id, listener_key); stored as counted downloads with rollups."""
    frame = pd.DataFrame(rows, columns=["ts", "tenant_id", "podcast_id", "episode_id", "listener_key"])
    frame = frame.drop_duplicates(["ts", "tenant_id", "episode_id", "listener_key"]).reset_index(drop=True)
    frame = frame.assign(app="Overcast", device="phone", os="iOS", country="US", region=None, referrer=None)
    first, last = frame.ts.min().date(), frame.ts.max().date()
    for tenant_id, part in frame.groupby("tenant_id"):
        with network.db.session(int(tenant_id)) as s:
            store.replace_downloads(s, int(tenant_id), first, last, part)
            store.refresh_rollups(s, int(tenant_id), first, last)
            s.commit()
    return frame
