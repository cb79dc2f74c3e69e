"""The hand-worked attribution case: one tenant, two shows, a campaign with two placements, six households.

Campaign "Brew launch" of sponsor "Brew Co": flight 2026-06-01..06-30, lookback 7 days, promo code BREW10, CPM 20,
time decay half-life 7 days. Placements: PA = show A's episode A1 only; PB = every episode of show B.
Show A's episode A2 carries no placement (its listeners are the lift's control).

| household | exposures (downloads)                                 | events                                            |
|-----------|--------------------------------------------------------|---------------------------------------------------|
| h1        | PA 06-02 10:00, PB 06-05 10:00                          | pageview 06-05 12:00; purchase 50 06-06 10:00 under the next epoch's key (h1 is its household_key_prev) |
| h2        | PB 06-01 09:00 (outside the lookback), PA 06-10 09:00, PB 06-12 09:00, PA 06-14 09:00 | purchase 30 06-15 09:00; a shared-IP purchase 06-13 (not matched) |
| h3        | PA 06-04 12:00                                          | purchase 10 05-20 (a prior customer); purchase 20 06-06 12:00 |
| h4        | PA 06-04 12:00                                          | purchase 15 06-03 12:00 (before its first exposure) |
| h6        | none                                                   | promo-code purchase 40 06-20 (BREW10)             |
| c1, c2    | show A's A2 06-03 (no placement)                        | c1: signup 06-05                                  |
A download without a household key (A1, 06-03) is an unusable exposure.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import insert

from services import accounts
from services.models import AttributionEvent, Campaign, Download, Episode, Placement, Podcast, Sponsor

# The campaign page's Attribution callback outputs, in order (callbacks/campaign.py attribution_view).
SECTION_OUTPUTS = [("campaign-attribution-message", "children"), ("campaign-attribution-computed", "children"),
                   ("campaign-attribution-kpis", "children"), ("campaign-attribution-usable-ip", "children"),
                   ("campaign-attribution-lift", "children"), ("campaign-attribution-lag-chart", "figure"),
                   ("campaign-attribution-by-show", "children"), ("campaign-attribution-by-placement", "children"),
                   ("campaign-attribution-by-episode", "children"), ("campaign-attribution-recompute", "style")]


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=timezone.utc)


@dataclass
class Scenario:
    tenant_id: int
    sponsor_id: int
    campaign_id: int
    show_a: int
    show_b: int
    pa: int
    pb: int
    a1: int
    a2: int
    b1: int


def build(db, slug: str = "brew", exclude_prior: bool = True) -> Scenario:
    tenant = accounts.create_tenant(db, slug, f"{slug} network")
    with db.session(system=True) as s:
        show_a = Podcast(tenant_id=tenant.id, title="Show A", prefix_key=f"{slug}-a")
        show_b = Podcast(tenant_id=tenant.id, title="Show B", prefix_key=f"{slug}-b")
        s.add_all([show_a, show_b])
        s.flush()
        a1 = Episode(tenant_id=tenant.id, podcast_id=show_a.id, guid="a1", title="A1")
        a2 = Episode(tenant_id=tenant.id, podcast_id=show_a.id, guid="a2", title="A2")
        b1 = Episode(tenant_id=tenant.id, podcast_id=show_b.id, guid="b1", title="B1")
        sponsor = Sponsor(tenant_id=tenant.id, name="Brew Co", industry="Coffee")
        s.add_all([a1, a2, b1, sponsor])
        s.flush()
        campaign = Campaign(tenant_id=tenant.id, sponsor_id=sponsor.id, name="Brew launch", status="live",
                            start_date=date(2026, 6, 1), end_date=date(2026, 6, 30), pricing="cpm",
                            cpm=Decimal("20"), promo_code="BREW10", lookback_days=7,
                            exclude_prior_customers=exclude_prior, decay_half_life_days=7.0,
                            attribution_model="linear")
        s.add(campaign)
        s.flush()
        pa = Placement(tenant_id=tenant.id, campaign_id=campaign.id, podcast_id=show_a.id, episode_id=a1.id,
                       start_date=date(2026, 6, 1), end_date=date(2026, 6, 30))
        pb = Placement(tenant_id=tenant.id, campaign_id=campaign.id, podcast_id=show_b.id, episode_id=None,
                       start_date=date(2026, 6, 1), end_date=date(2026, 6, 30))
        s.add_all([pa, pb])
        s.flush()
        sc = Scenario(tenant.id, sponsor.id, campaign.id, show_a.id, show_b.id, pa.id, pb.id, a1.id, a2.id, b1.id)
        downloads = [
            ("h1", at(6, 2, 10), a1.id, show_a.id), ("h1", at(6, 5, 10), b1.id, show_b.id),
            ("h2", at(6, 1, 9), b1.id, show_b.id), ("h2", at(6, 10, 9), a1.id, show_a.id),
            ("h2", at(6, 12, 9), b1.id, show_b.id), ("h2", at(6, 14, 9), a1.id, show_a.id),
            ("h3", at(6, 4, 12), a1.id, show_a.id), ("h4", at(6, 4, 12), a1.id, show_a.id),
            (None, at(6, 3, 8), a1.id, show_a.id),
            ("c1", at(6, 3, 7), a2.id, show_a.id), ("c2", at(6, 3, 7), a2.id, show_a.id),
        ]
        s.execute(insert(Download), [
            {"ts": ts, "tenant_id": tenant.id, "episode_id": ep, "podcast_id": pod, "listener_key": f"l{i}",
             "household_key": key, "flags": 0} for i, (key, ts, ep, pod) in enumerate(downloads)])
        events = [
            ("h1-view", "pageview", at(6, 5, 12), "h1-next", "h1", False, None, None, None),
            ("h1-buy", "purchase", at(6, 6, 10), "h1-next", "h1", False, "50.00", None, None),
            ("h2-buy", "purchase", at(6, 15, 9), "h2", None, False, "30.00", None, None),
            ("h2-shared", "purchase", at(6, 13, 9), "h2", None, True, "99.00", None, None),
            ("h3-prior", "purchase", at(5, 20, 9), "h3", None, False, "10.00", None, None),
            ("h3-buy", "purchase", at(6, 6, 12), "h3", None, False, "20.00", None, None),
            ("h4-early", "purchase", at(6, 3, 12), "h4", None, False, "15.00", None, None),
            ("h6-promo", "purchase", at(6, 20, 12), "h6", None, False, "40.00", campaign.id, "BREW10"),
            ("c1-signup", "signup", at(6, 5, 7), "c1", None, False, None, None, None),
        ]
        s.execute(insert(AttributionEvent), [
            {"ts": ts, "sponsor_id": sponsor.id, "event_id": eid, "tenant_id": tenant.id, "campaign_id": cid,
             "source": "promo_csv" if promo else "s2s", "type": kind, "household_key": key,
             "household_key_prev": prev, "ip_shared": shared, "value": None if value is None else Decimal(value),
             "promo_code": promo} for eid, kind, ts, key, prev, shared, value, cid, promo in events])
        s.commit()
    return sc
