"""The "Demo Network" tenant: deterministic shows, episodes, sponsors, campaigns, a believable download history and
the sponsors' conversions."""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import select

from services import accounts
from services import demo_conversions, demo_traffic
from services.sponsorship import delivery
from services.bulk import insert_frame
from services.insights import anomaly_store, summaries
from services.measurement import counting
from services.measurement.urls import try_enclosure_match_key
from services.sponsorship.attribution import households, results
from services.db import Database
from services.models import (
    AuditLog, Campaign, DownloadRequest, Episode, Membership, Placement, Podcast, Sponsor, Tenant, User,
)

logger = logging.getLogger(__name__)

DEMO_SLUG = "demo"
DEMO_NAME = "Demo Network"
DEMO_EMAIL = "demo@example.com"
SEED = 20240611
HISTORY_DAYS = 730
DEMO_ANOMALY_DAYS = 90  # the demo's insights look back this far at seeding


@dataclass(frozen=True)
class Show:
    title: str
    category: str
    every_days: int
    first_day: int  # days before the anchor of the first episode
    base_downloads: int
    audience: int  # size of the listener pool
    duration_min: int


SHOWS = (
    Show("Signal & Noise", "Technology", 10, 725, 1000, 6000, 48),
    Show("Market Hours", "Business", 7, 364, 600, 3500, 31),
    Show("The Long Way Round", "Society & Culture", 30, 715, 2300, 9000, 62),
)

def generate_catalog(anchor: date) -> pd.DataFrame:
    """One row per episode: show index, number, publish time, downloads it will get."""
    rng = np.random.default_rng(SEED)
    rows = []
    for show_idx, show in enumerate(SHOWS):
        days = np.arange(show.first_day, 0, -show.every_days)
        quality = rng.lognormal(0.0, 0.35, size=len(days))
        for number, (days_ago, q) in enumerate(zip(days, quality), start=1):
            published = datetime.combine(anchor - timedelta(days=int(days_ago)), datetime.min.time(),
                                         tzinfo=timezone.utc) + timedelta(hours=10)
            growth = 1.0 + 0.8 * (1 - days_ago / HISTORY_DAYS)  # the audience grows over two years
            rows.append({"show": show_idx, "number": number, "published_at": published,
                         "expected": show.base_downloads * growth * q})
    return pd.DataFrame(rows)


def seed_demo(db: Database, password: str | None = None, anchor: date | None = None,
              progress: Callable[[float, str], None] | None = None) -> dict:
    """Create the demo tenant with its data, all in one transaction, unless it exists; then attribute its campaigns'
    conversions (each campaign's own run, as the attribution job does).

    Returns what was done and the login; `password` is generated (and returned) for a new demo user."""
    report = progress or (lambda _f, _m: None)
    with db.session(system=True) as s:
        existing = s.scalar(select(Tenant).where(Tenant.slug == DEMO_SLUG))
        user = s.scalar(select(User).where(User.email == DEMO_EMAIL))
        if existing is not None:
            if password and user is not None:
                user.password_hash = accounts.hash_password(password)
                s.commit()
            return {"created": False, "tenant_id": existing.id, "email": DEMO_EMAIL, "password": None}

        now = datetime.now(timezone.utc)
        if anchor is not None and anchor != now.date():
            now = datetime.combine(anchor, datetime.min.time(), tzinfo=timezone.utc)
        anchor = now.date()
        report(0.05, "creating tenant")
        tenant = Tenant(slug=DEMO_SLUG, name=DEMO_NAME)
        s.add(tenant)
        generated = None
        if user is None:
            if password is None:
                generated = password = secrets.token_urlsafe(9)
            user = User(email=DEMO_EMAIL, name="Demo Owner", password_hash=accounts.hash_password(password))
            s.add(user)
        s.flush()
        s.add(Membership(tenant_id=tenant.id, user_id=user.id, role="owner"))

        report(0.15, "generating catalog")
        catalog = generate_catalog(anchor)
        podcasts = _add_podcasts(s, tenant.id)
        _add_episodes(s, tenant.id, podcasts, catalog)
        _add_sponsors_and_campaigns(s, tenant.id, podcasts, anchor, user.id)

        report(0.3, "generating requests")
        audiences = [show.audience for show in SHOWS]
        events = demo_traffic.listen_events(catalog, audiences, now)
        urls = [f"https://media.example.com/{_slug(SHOWS[ep.show])}/{ep.number:04d}.mp3" for ep in catalog.itertuples()]
        requests = demo_traffic.request_rows(tenant.id, events, audiences, [p.id for p in podcasts], urls, now)
        # As ingestion does: the address becomes a household key (under its epoch's secret) and is dropped.
        requests["household_key"] = households.household_keys(s, requests["ip"], requests["ts"], anchor).array
        homes = requests[["household_key", "ip"]].dropna().drop_duplicates("household_key")
        ips_by_household = dict(zip(homes["household_key"], homes["ip"]))
        requests = requests.drop(columns="ip")
        insert_frame(s, DownloadRequest.__table__, requests)
        report(0.5, f"counting {len(requests)} requests")
        counted = counting.count_in_session(s, tenant.id, progress=lambda f, m: report(0.5 + 0.4 * f, m))
        report(0.9, "recording sponsors' conversions")
        conversions = demo_conversions.add_demo_conversions(s, tenant.id, ips_by_household, now)
        report(0.96, "measuring campaign delivery")
        delivery.refresh_tenant_in_session(s, tenant.id)
        s.commit()
    report(0.98, "attributing conversions")  # so the campaigns' Attribution sections are alive on first start
    for campaign_id in results.campaigns_to_attribute(db, tenant.id):
        results.attribute_campaign(db, tenant.id, campaign_id)
    report(0.99, "looking for anomalies")  # so the insights page and the summaries have the last months
    anomaly_store.detect_and_store(db, tenant.id, anchor - timedelta(days=DEMO_ANOMALY_DAYS), today=anchor)
    summaries.refresh_tenant_summaries(db, tenant.id, today=anchor)
    report(1.0, "done")
    logger.info("demo tenant seeded", extra={"tenant_id": tenant.id, "requests": len(requests),
                                              "downloads": counted.downloads})
    return {"created": True, "tenant_id": tenant.id, "email": DEMO_EMAIL, "password": generated,
            "episodes": len(catalog), "requests": len(requests), "downloads": counted.downloads,
            "conversions": conversions["conversions"], "clicks": conversions["clicks"]}


def _slug(show: Show) -> str:
    return show.title.lower().replace("&", "and").replace(" ", "-")


def _add_podcasts(s, tenant_id: int) -> list[Podcast]:
    podcasts = []
    for i, show in enumerate(SHOWS):
        podcast = Podcast(tenant_id=tenant_id, title=show.title, category=show.category, language="en",
                          author="Demo Network", feed_url=None,  # demo shows have no live feed to refresh
                          prefix_key=f"demo{i + 1}{secrets.token_hex(6)}")
        s.add(podcast)
        podcasts.append(podcast)
    s.flush()
    return podcasts


def _add_episodes(s, tenant_id: int, podcasts: list[Podcast], catalog: pd.DataFrame) -> None:
    episodes = []
    for ep in catalog.itertuples():
        show, podcast = SHOWS[ep.show], podcasts[ep.show]
        slug = _slug(show)
        duration = int(show.duration_min * 60 * (0.8 + 0.4 * ((ep.number * 37) % 10) / 10))
        episodes.append(Episode(
            tenant_id=tenant_id, podcast_id=podcast.id, guid=f"{slug}-{ep.number:04d}",
            title=f"{show.title} #{ep.number}", published_at=ep.published_at, episode_number=ep.number,
            enclosure_url=f"https://media.example.com/{slug}/{ep.number:04d}.mp3", enclosure_type="audio/mpeg",
            match_key=try_enclosure_match_key(f"https://media.example.com/{slug}/{ep.number:04d}.mp3"),
            duration_seconds=duration, enclosure_length=duration * 16000))
    s.add_all(episodes)
    s.flush()


def _add_sponsors_and_campaigns(s, tenant_id: int, podcasts: list[Podcast], anchor: date, user_id: int) -> None:
    coffee = Sponsor(tenant_id=tenant_id, name="Northwind Coffee", industry="Food & Beverage",
                     website="https://northwind.example.com", contact_email="ads@northwind.example.com")
    vpn = Sponsor(tenant_id=tenant_id, name="Lumen VPN", industry="Technology",
                  website="https://lumen.example.com", contact_email="partners@lumen.example.com")
    s.add_all([coffee, vpn])
    s.flush()
    specs = [
        (coffee, "Morning Ritual Q3", "completed", -150, -60, 30000, [(0, "pre", "host_read"), (2, "mid", "host_read")]),
        (vpn, "Privacy Month", "live", -20, 40, 45000, [(0, "mid", "host_read"), (1, "pre", "produced")]),
        (coffee, "Holiday Blend", "approved", 10, 70, 25000, [(1, "pre", "host_read")]),
    ]
    for sponsor, name, status, start, end, goal, lines in specs:
        start_d, end_d = anchor + timedelta(days=start), anchor + timedelta(days=end)
        campaign = Campaign(tenant_id=tenant_id, sponsor_id=sponsor.id, name=name, objective="awareness",
                            status=status, start_date=start_d, end_date=end_d, pricing="cpm", cpm=Decimal("25.00"),
                            budget=Decimal(goal) * Decimal("0.025"), goal_impressions=goal,
                            landing_url=f"{sponsor.website}/podcast", promo_code=name.split()[0].upper() + "20",
                            target_countries=["US", "GB", "CA"])
        s.add(campaign)
        s.flush()
        _add_status_history(s, campaign, user_id)
        for show_idx, position, read_type in lines:
            s.add(Placement(tenant_id=tenant_id, campaign_id=campaign.id, podcast_id=podcasts[show_idx].id,
                            position=position, read_type=read_type, start_date=start_d, end_date=end_d,
                            price=Decimal("25.00")))


# The workflow each demo campaign went through, and when (days from its flight's start; None: the day after its end).
_DEMO_PATH = (("draft", -30), ("proposed", -25), ("approved", -20), ("live", 0), ("completed", None))


def _add_status_history(s, campaign: Campaign, user_id: int) -> None:
    """Audit entries for the demo campaign's moves up to its status, as the campaign page shows them."""
    previous = None
    for status, offset in _DEMO_PATH:
        day = campaign.end_date + timedelta(days=1) if offset is None else campaign.start_date + timedelta(days=offset)
        at = datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=9)
        action = "campaign.created" if previous is None else "campaign.status_changed"
        s.add(AuditLog(tenant_id=campaign.tenant_id, user_id=user_id, action=action, entity_type="campaign",
                       entity_id=campaign.id, detail={"from": previous, "to": status}, created_at=at))
        if status == campaign.status:
            return
        previous = status
