"""Demo conversions: the Demo Network's sponsors record purchases, signups, leads, promo-code orders and link clicks,
stored through the attribution inputs' own store_events, so the attribution pages have something true to show."""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.demo_traffic import HOUSEHOLDS, SEED, household_ip
from services.frames import frame_of
from services.models import Campaign, Download, Placement, Sponsor, TrackingLink
from services.sponsorship.attribution.households import HouseholdHasher
from services.sponsorship.attribution.inputs import ConversionEvent, store_events
from services.sponsorship.attribution.shared_ips import default_classifier

logger = logging.getLogger(__name__)

CONVERSION_RATE = 0.04  # of the households a campaign reached
UNEXPOSED_SHARE = 0.35  # converters the campaign never reached, per exposed converter (the control's converters)
# Listeners of the campaign's shows around the flight whom it did not reach (the lift's control group) still buy
# at this base rate: the demo's lift compares about 4% with it.
BASE_RATE = 0.012
MAX_LAG_DAYS = 30
LAG_MEAN_DAYS = 6.0  # lags decay: most conversions come within a week of hearing the ad
PROMO_SHARE = 0.08  # of purchases, made with the campaign's code
CLICKS_PER_CAMPAIGN = 60
BASKET = {"Food & Beverage": 24.0, "Technology": 59.0}  # the mean order value by sponsor industry


def add_demo_conversions(s: Session, tenant_id: int, ips_by_household: dict[str, str], now: datetime) -> dict:
    """Conversions for every demo campaign whose flight has begun: converters among the households its placements
    reached in flight (`ips_by_household`: household key -> an address of that household, from the demo traffic)
    and among households it never reached; a tracking link per campaign with some clicks. Returns counts."""
    rng = np.random.default_rng(SEED + 3)
    classifier = default_classifier()
    hasher = HouseholdHasher(s, now.date())
    totals = {"conversions": 0, "clicks": 0}
    campaigns = s.scalars(select(Campaign).where(Campaign.tenant_id == tenant_id, Campaign.start_date <= now.date())
                          .order_by(Campaign.id)).all()
    for campaign in campaigns:
        exposures = _first_exposures(s, tenant_id, campaign, now)
        exposures = exposures[exposures["household_key"].isin(ips_by_household.keys())]
        basket = BASKET.get(s.get(Sponsor, campaign.sponsor_id).industry or "", 40.0)
        control = _unexposed_listeners(s, tenant_id, campaign, now, set(exposures["household_key"]))
        control = control[control["household_key"].isin(ips_by_household.keys())]
        events = _conversions(rng, campaign, basket, exposures, control, ips_by_household, now)
        s.add(link := TrackingLink(tenant_id=tenant_id, campaign_id=campaign.id, label="Show notes"))
        s.flush()
        clicks = _clicks(rng, campaign, link, exposures, ips_by_household, now)
        store_events(s, tenant_id, campaign.sponsor_id, events + clicks, classifier, hasher)
        totals["conversions"] += len(events)
        totals["clicks"] += len(clicks)
    logger.info("demo conversions added", extra=totals)
    return totals


def _first_exposures(s: Session, tenant_id: int, campaign: Campaign, now: datetime) -> pd.DataFrame:
    """Each household's first counted download carrying one of the campaign's placements inside its flight."""
    frames = []
    for placement in s.scalars(select(Placement).where(Placement.campaign_id == campaign.id)):
        start, end = _day_start(placement.start_date), min(_day_start(placement.end_date + timedelta(days=1)), now)
        rows = s.execute(select(Download.household_key, Download.ts).where(
            Download.tenant_id == tenant_id, Download.podcast_id == placement.podcast_id, Download.ts >= start,
            Download.ts < end, Download.household_key.is_not(None))).all()
        frames.append(frame_of(rows, ["household_key", "ts"]))
    exposures = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["household_key", "ts"])
    exposures["ts"] = pd.to_datetime(exposures["ts"], utc=True)
    return exposures.sort_values(["ts", "household_key"]).drop_duplicates("household_key", ignore_index=True)


def _unexposed_listeners(s: Session, tenant_id: int, campaign: Campaign, now: datetime,
                         exposed: set[str]) -> pd.DataFrame:
    """Households that downloaded the campaign's shows within MAX_LAG_DAYS of its flight without an exposure, each
    with its first such download (`household_key`, `ts`)."""
    podcasts = select(Placement.podcast_id).where(Placement.campaign_id == campaign.id)
    start = _day_start(campaign.start_date) - timedelta(days=MAX_LAG_DAYS)
    end = min(_day_start(campaign.end_date) + timedelta(days=MAX_LAG_DAYS), now)
    rows = s.execute(select(Download.household_key, func.min(Download.ts)).where(
        Download.tenant_id == tenant_id, Download.podcast_id.in_(podcasts), Download.ts >= start, Download.ts < end,
        Download.household_key.is_not(None)).group_by(Download.household_key).order_by(Download.household_key)).all()
    listeners = frame_of(rows, ["household_key", "ts"])
    listeners["ts"] = pd.to_datetime(listeners["ts"], utc=True)
    return listeners[~listeners["household_key"].isin(exposed)]


def _conversions(rng, campaign: Campaign, basket: float, exposures: pd.DataFrame, control: pd.DataFrame,
                 ips: dict[str, str], now: datetime) -> list[ConversionEvent]:
    converters = exposures[rng.random(len(exposures)) < CONVERSION_RATE]
    lag = np.minimum(rng.exponential(LAG_MEAN_DAYS, len(converters)), MAX_LAG_DAYS)
    exposed = [(ips[key], ts + timedelta(days=float(d))) for key, ts, d in
               zip(converters["household_key"], converters["ts"], lag)]
    # Homes the campaign never reached (outside the listeners' households), converting at any time of the flight.
    flight_start = _day_start(campaign.start_date)
    span = (min(_day_start(campaign.end_date) + timedelta(days=MAX_LAG_DAYS), now) - flight_start).total_seconds()
    others = rng.choice(np.arange(HOUSEHOLDS, 2 * HOUSEHOLDS), int(len(exposed) * UNEXPOSED_SHARE), replace=False)
    unexposed = [(household_ip(int(h)), flight_start + timedelta(seconds=float(rng.uniform(0, span))))
                 for h in others.tolist()]
    # Listeners of the same shows the campaign did not reach buy at the base rate, after listening (the control).
    buyers = control[rng.random(len(control)) < BASE_RATE]
    lags = np.minimum(rng.exponential(LAG_MEAN_DAYS, len(buyers)), MAX_LAG_DAYS)
    unexposed += [(ips[key], ts + timedelta(days=float(d))) for key, ts, d in zip(buyers["household_key"],
                                                                                   buyers["ts"], lags)]
    events = []
    for n, (ip, at) in enumerate(exposed + unexposed):
        at = pd.Timestamp(at).to_pydatetime()
        if at >= now:  # not happened yet
            continue
        kind = rng.choice(["purchase", "signup", "lead"], p=[0.75, 0.15, 0.10])
        value = Decimal(str(round(float(rng.lognormal(np.log(basket), 0.45)), 2))) if kind == "purchase" else None
        promo = kind == "purchase" and rng.random() < PROMO_SHARE and campaign.promo_code is not None
        events.append(ConversionEvent(
            event_id=f"demo-{campaign.id}-{n}", type=str(kind), occurred_at=at,
            source="promo_csv" if promo else "s2s", ip=ip, value=value,
            currency="USD" if value is not None else None, order_id=f"NW{campaign.id}{n:05d}" if value else None,
            promo_code=campaign.promo_code if promo else None, campaign_id=campaign.id if promo else None))
    return events


def _clicks(rng, campaign: Campaign, link: TrackingLink, exposures: pd.DataFrame, ips: dict[str, str],
            now: datetime) -> list[ConversionEvent]:
    """Listeners who tapped the show-notes link, minutes to hours after hearing the ad."""
    if exposures.empty:
        return []
    picked = exposures.iloc[rng.choice(len(exposures), min(CLICKS_PER_CAMPAIGN, len(exposures)), replace=False)]
    clicks = []
    for n, (key, ts) in enumerate(zip(picked["household_key"], picked["ts"])):
        at = (ts + timedelta(minutes=float(rng.exponential(90.0)))).to_pydatetime()
        if at < now:
            clicks.append(ConversionEvent(event_id=f"click:demo-{link.code}-{n}", type="click", source="link",
                                          occurred_at=at, ip=ips[key], campaign_id=campaign.id,
                                          referrer="https://podcasts.example.com/"))
    return clicks


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)
