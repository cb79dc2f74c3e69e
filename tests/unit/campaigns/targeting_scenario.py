"""A constructed history for targeted delivery, on any engine: one show, one episode, seven listeners who each
download it once a day from 2026-05-01 to 2026-06-10 (household key = listener key), and three campaigns of one
sponsor on the whole show for June (CPM 20), differing only in their rule:

| campaign   | target countries | insertion | counts per day                         |
|------------|------------------|-----------|----------------------------------------|
| targeted   | US, GB           | dynamic   | u1 u2 u3 (US) + g1 (GB) = 4            |
| everywhere | none             | dynamic   | all 7 (de1 de2 in DE, z1 of no country) |
| baked      | US, GB           | baked     | all 7                                  |

June 1-10 are counted (as of June 11): 40, 70 and 70 impressions; reach 4, 7 and 7; spend 0.80, 1.40 and 1.40.
The sponsor's site reports two purchases on June 5 12:00: one by u1 (US) and one by de1 (DE); the targeted
campaign's ad never reached de1, so only u1's is its conversion.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pandas as pd
from sqlalchemy import insert

from services import accounts
from services.measurement import store
from services.models import AttributionEvent, Campaign, Episode, Placement, Podcast, Sponsor

LISTENERS = {"u1": "US", "u2": "US", "u3": "US", "g1": "GB", "de1": "DE", "de2": "DE", "z1": None}
FIRST, LAST = date(2026, 5, 1), date(2026, 6, 10)
FLIGHT = (date(2026, 6, 1), date(2026, 6, 30))
AS_OF = date(2026, 6, 11)
RULES = {"targeted": (["US", "GB"], "dynamic"), "everywhere": ([], "dynamic"), "baked": (["US", "GB"], "baked")}
EXPECTED = {"targeted": {"impressions": 40, "reach": 4, "spend": 0.8, "conversions": 1},
            "everywhere": {"impressions": 70, "reach": 7, "spend": 1.4, "conversions": 2},
            "baked": {"impressions": 70, "reach": 7, "spend": 1.4, "conversions": 2}}


@dataclass
class Targeting:
    tenant_id: int
    sponsor_id: int
    podcast_id: int
    episode_id: int
    campaigns: dict[str, int] = field(default_factory=dict)
    placements: dict[str, int] = field(default_factory=dict)


def history(tenant_id: int, podcast_id: int, episode_id: int) -> pd.DataFrame:
    rows = []
    for n in range((LAST - FIRST).days + 1):
        day = datetime.combine(FIRST + timedelta(days=n), datetime.min.time(), tzinfo=timezone.utc)
        for i, (key, country) in enumerate(LISTENERS.items()):
            rows.append({"ts": day + timedelta(hours=8, minutes=i), "tenant_id": tenant_id, "episode_id": episode_id,
                         "listener_key": key, "podcast_id": podcast_id, "app": "Overcast", "device": "phone",
                         "os": "iOS", "country": country, "region": None, "referrer": None, "household_key": key})
    return pd.DataFrame(rows)


def build(db, slug: str = "geo") -> Targeting:
    tenant = accounts.create_tenant(db, slug, f"{slug} network")
    with db.session(system=True) as s:
        show = Podcast(tenant_id=tenant.id, title="Atlas Hour", prefix_key=f"{slug}-atlas")
        sponsor = Sponsor(tenant_id=tenant.id, name="Globe Outfitters", industry="Retail")
        s.add_all([show, sponsor])
        s.flush()
        episode = Episode(tenant_id=tenant.id, podcast_id=show.id, guid=f"{slug}-1", title="Atlas Hour #1",
                          published_at=datetime(2026, 4, 30, 9, tzinfo=timezone.utc))
        s.add(episode)
        s.flush()
        sc = Targeting(tenant.id, sponsor.id, show.id, episode.id)
        for name, (countries, insertion) in RULES.items():
            campaign = Campaign(tenant_id=tenant.id, sponsor_id=sponsor.id, name=name, status="live",
                                start_date=FLIGHT[0], end_date=FLIGHT[1], pricing="cpm", cpm=Decimal("20"),
                                goal_impressions=200, target_countries=countries, lookback_days=30)
            s.add(campaign)
            s.flush()
            placement = Placement(tenant_id=tenant.id, campaign_id=campaign.id, podcast_id=show.id,
                                  start_date=FLIGHT[0], end_date=FLIGHT[1], insertion=insertion)
            s.add(placement)
            s.flush()
            sc.campaigns[name], sc.placements[name] = campaign.id, placement.id
        store.replace_downloads(s, tenant.id, FIRST, LAST, history(tenant.id, show.id, episode.id))
        store.refresh_rollups(s, tenant.id, FIRST, LAST)
        s.execute(insert(AttributionEvent), [
            {"ts": datetime(2026, 6, 5, 12, tzinfo=timezone.utc), "sponsor_id": sponsor.id, "event_id": f"{key}-buy",
             "tenant_id": tenant.id, "campaign_id": None, "source": "s2s", "type": "purchase",
             "household_key": key, "household_key_prev": None, "ip_shared": False, "value": Decimal("25.00"),
             "promo_code": None} for key in ("u1", "de1")])
        s.commit()
    return sc
