"""The "Demo Network" tenant: deterministic shows, episodes, sponsors, campaigns and a believable download history."""
from __future__ import annotations

import hashlib
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
from services.measurement import store
from services.db import Database
from services.models import Campaign, Episode, Membership, Placement, Podcast, Sponsor, Tenant, User

logger = logging.getLogger(__name__)

DEMO_SLUG = "demo"
DEMO_NAME = "Demo Network"
DEMO_EMAIL = "demo@example.com"
SEED = 20240611
HISTORY_DAYS = 730


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

# (name, share, device, os) — shares of listeners by app, with the device and OS each app usually runs on.
APPS = (
    ("Apple Podcasts", 0.41, "smartphone", "iOS"),
    ("Spotify", 0.27, "smartphone", "Android"),
    ("Overcast", 0.06, "smartphone", "iOS"),
    ("Pocket Casts", 0.05, "smartphone", "Android"),
    ("Podcast Addict", 0.04, "smartphone", "Android"),
    ("Castbox", 0.03, "smartphone", "Android"),
    ("Amazon Music", 0.03, "smart_speaker", "Alexa"),
    ("Apple Podcasts (Mac)", 0.03, "computer", "macOS"),
    ("Web browser", 0.05, "computer", "Windows"),
    ("Other", 0.03, "smartphone", "Android"),
)
COUNTRIES = (("US", 0.52), ("GB", 0.11), ("CA", 0.08), ("AU", 0.06), ("DE", 0.05), ("IN", 0.04),
             ("NL", 0.03), ("IE", 0.03), ("NZ", 0.02), ("SE", 0.02), ("FR", 0.02), ("BR", 0.02))
US_REGIONS = ("CA", "NY", "TX", "FL", "WA", "IL", "MA", "CO", "GA", "OR")
REFERRERS = (("app", 0.86), ("web", 0.09), ("social", 0.05))
# Relative listening by weekday (Mon..Sun) and by UTC hour: commutes and evenings, quieter weekends.
WEEKDAY = np.array([1.12, 1.10, 1.08, 1.05, 0.98, 0.80, 0.84])
HOUR = np.array([.35, .25, .2, .18, .2, .3, .6, 1.0, 1.3, 1.2, 1.0, .95, 1.0, 1.05, 1.1, 1.15, 1.3, 1.35,
                 1.2, 1.0, .9, .8, .65, .5])


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


def generate_downloads(catalog: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Counted downloads for every episode: a release spike, a long tail, weekday and hour rhythm."""
    rng = np.random.default_rng(SEED + 1)
    frames = []
    for ep in catalog.itertuples():
        show = SHOWS[ep.show]
        n = int(ep.expected * 1.5)
        spike = rng.random(n) < 0.72
        age_h = np.where(spike, rng.exponential(60.0, n), rng.exponential(24 * 120.0, n))
        ts = pd.to_datetime(ep.published_at) + pd.to_timedelta(age_h, unit="h")
        ts = ts[ts < now]
        weight = WEEKDAY[ts.day_of_week] * HOUR[ts.hour]
        ts = ts[rng.random(len(ts)) * 1.6 < weight][: int(ep.expected)]
        listener = np.minimum(rng.zipf(1.15, len(ts)) - 1, show.audience - 1)
        listener = (listener * 7919 + rng.integers(0, show.audience, len(ts)) * (listener > 50)) % show.audience
        frames.append(pd.DataFrame({"show": ep.show, "episode": ep.Index, "ts": ts, "listener": listener}))
    downloads = pd.concat(frames, ignore_index=True).drop_duplicates(["episode", "listener"])
    return downloads.sort_values("ts", ignore_index=True)


def listener_profiles(show_idx: int, audience: int) -> pd.DataFrame:
    """Each listener's fixed app, device, OS, country, region, referrer and hashed key."""
    rng = np.random.default_rng(SEED + 100 + show_idx)
    app_idx = rng.choice(len(APPS), audience, p=_norm([a[1] for a in APPS]))
    country = rng.choice([c for c, _ in COUNTRIES], audience, p=_norm([w for _, w in COUNTRIES]))
    region = np.where(country == "US", rng.choice(US_REGIONS, audience), None)
    referrer = rng.choice([r for r, _ in REFERRERS], audience, p=_norm([w for _, w in REFERRERS]))
    # A minority of Spotify listeners are on iPhones; keep the OS mix believable.
    ios_spotify = (app_idx == 1) & (rng.random(audience) < 0.45)
    os_ = np.array([APPS[i][3] for i in app_idx], dtype=object)
    os_[ios_spotify] = "iOS"
    keys = [hashlib.sha256(f"demo:{show_idx}:{i}".encode()).hexdigest()[:32] for i in range(audience)]
    return pd.DataFrame({"listener_key": keys, "app": [APPS[i][0] for i in app_idx],
                         "device": [APPS[i][2] for i in app_idx], "os": os_, "country": country,
                         "region": region, "referrer": referrer})


def _norm(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def seed_demo(db: Database, password: str | None = None, anchor: date | None = None,
              progress: Callable[[float, str], None] | None = None) -> dict:
    """Create the demo tenant with its data, all in one transaction, unless it exists.

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
        episode_ids = _add_episodes(s, tenant.id, podcasts, catalog)
        _add_sponsors_and_campaigns(s, tenant.id, podcasts, anchor)

        report(0.3, "generating downloads")
        frame = _download_rows(tenant.id, catalog, podcasts, episode_ids, now)
        report(0.6, f"writing {len(frame)} downloads")
        first, last = frame.ts.min().date(), frame.ts.max().date()
        store.replace_downloads(s, tenant.id, first, last, frame)
        report(0.85, "building rollups")
        store.refresh_rollups(s, tenant.id, first, last)
        s.commit()
    report(1.0, "done")
    logger.info("demo tenant seeded", extra={"tenant_id": tenant.id, "downloads": len(frame)})
    return {"created": True, "tenant_id": tenant.id, "email": DEMO_EMAIL, "password": generated,
            "episodes": len(catalog), "downloads": len(frame)}


def _add_podcasts(s, tenant_id: int) -> list[Podcast]:
    podcasts = []
    for i, show in enumerate(SHOWS):
        slug = show.title.lower().replace("&", "and").replace(" ", "-")
        podcast = Podcast(tenant_id=tenant_id, title=show.title, category=show.category, language="en",
                          author="Demo Network", feed_url=f"https://feeds.example.com/{slug}.xml",
                          prefix_key=f"demo{i + 1}{secrets.token_hex(6)}")
        s.add(podcast)
        podcasts.append(podcast)
    s.flush()
    return podcasts


def _add_episodes(s, tenant_id: int, podcasts: list[Podcast], catalog: pd.DataFrame) -> list[int]:
    episodes = []
    for ep in catalog.itertuples():
        show, podcast = SHOWS[ep.show], podcasts[ep.show]
        slug = show.title.lower().replace("&", "and").replace(" ", "-")
        duration = int(show.duration_min * 60 * (0.8 + 0.4 * ((ep.number * 37) % 10) / 10))
        episodes.append(Episode(
            tenant_id=tenant_id, podcast_id=podcast.id, guid=f"{slug}-{ep.number:04d}",
            title=f"{show.title} #{ep.number}", published_at=ep.published_at, episode_number=ep.number,
            enclosure_url=f"https://media.example.com/{slug}/{ep.number:04d}.mp3", enclosure_type="audio/mpeg",
            duration_seconds=duration, enclosure_length=duration * 16000))
    s.add_all(episodes)
    s.flush()
    return [e.id for e in episodes]


def _add_sponsors_and_campaigns(s, tenant_id: int, podcasts: list[Podcast], anchor: date) -> None:
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
        for show_idx, position, read_type in lines:
            s.add(Placement(tenant_id=tenant_id, campaign_id=campaign.id, podcast_id=podcasts[show_idx].id,
                            position=position, read_type=read_type, start_date=start_d, end_date=end_d,
                            price=Decimal("25.00")))


def _download_rows(tenant_id: int, catalog: pd.DataFrame, podcasts: list[Podcast], episode_ids: list[int],
                   now: datetime) -> pd.DataFrame:
    downloads = generate_downloads(catalog, now)
    parts = []
    for show_idx, group in downloads.groupby("show"):
        profiles = listener_profiles(int(show_idx), SHOWS[int(show_idx)].audience)
        part = profiles.iloc[group["listener"].to_numpy()].reset_index(drop=True)
        part.insert(0, "ts", group["ts"].to_numpy())
        part.insert(0, "episode_id", np.asarray(episode_ids)[group["episode"].to_numpy()])
        part.insert(0, "podcast_id", podcasts[int(show_idx)].id)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "tenant_id", tenant_id)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame
