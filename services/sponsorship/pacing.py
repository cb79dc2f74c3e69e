"""Pacing: delivery against the goal prorated over the flight, a forecast to the flight's end from the shows' and
episodes' forecasts (services.insights) with its 80% interval and the probability of reaching the goal, spend to date, and when short, makegoods: the upcoming episodes that would cover the shortfall. Reads the
campaign rollups and the download rollups only; the pure functions here are tested on constructed histories.

A dynamically inserted ad reaches only the campaign's target countries, so its forecast (and a makegood's expected
impressions) is the show's or episode's forecast times the share of its recent downloads from those countries,
read from the per-country rollups."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from services.sponsorship.campaigns import CampaignDetail, get_campaign
from services.db import Database
from services.insights import forecasts
from services.insights.forecast_store import placement_expectations
from services.measurement.store import view
from services.models import (
    CampaignMetric, CampaignReach, Episode, EpisodeDailyMetric, EpisodeGeoDailyMetric, Placement, Podcast,
    PodcastGeoDailyMetric,
)
from services.sponsorship.placements import served_countries
from services.tenancy import TenantContext

LAUNCH_DAYS = 30  # an upcoming episode is expected to deliver what recent episodes did in their first 30 days
MAKEGOOD_LIMIT = 8
SHARE_DAYS = 28  # a show's country mix is read from its last four weeks of downloads


def expected_to_date(goal: int, start: date, end: date, as_of: date) -> float:
    """The goal prorated over the flight: how much should be delivered by the end of `as_of`."""
    days = (end - start).days + 1
    elapsed = min(max((as_of - start).days + 1, 0), days)
    return goal * elapsed / days


def spend_to_date(pricing: str, impressions: int, cpm: float | None, flat_fee: float | None, start: date, end: date,
                  as_of: date) -> float:
    """CPM: impressions x CPM / 1000. Flat fee: prorated over the flight's elapsed days."""
    if pricing == "flat":
        days = (end - start).days + 1
        elapsed = min(max((as_of - start).days + 1, 0), days)
        return round((flat_fee or 0.0) * elapsed / days, 2)
    return round(impressions * (cpm or 0.0) / 1000, 2)


def upcoming_releases(published: list[datetime], as_of: date, until: date) -> list[date]:
    """Release days expected after as_of up to `until`, from the show's release calendar."""
    return forecasts.expected_releases([_as_date(p) for p in published], as_of, until)


@dataclass(frozen=True)
class Makegood:
    podcast_id: int
    podcast: str
    release: date
    expected_impressions: int


@dataclass(frozen=True)
class Pacing:
    as_of: date
    goal: int | None
    delivered: int
    expected: float
    pace: float | None  # delivered / expected to date
    forecast: float  # delivered + what the rest of the flight should bring
    shortfall: int  # goal - forecast, when positive
    under_delivery: bool
    reach: int
    frequency: float
    spend: float
    makegoods: list[Makegood] = field(default_factory=list)
    flight_over: bool = False
    forecast_lower: float | None = None  # the forecast's 80% interval
    forecast_upper: float | None = None
    goal_probability: float | None = None  # of reaching the goal by the flight's end

    def as_dict(self) -> dict:
        return {"as_of": self.as_of.isoformat(), "goal": self.goal, "delivered": self.delivered,
                "expected": round(self.expected), "pace": None if self.pace is None else round(self.pace, 3),
                "forecast": round(self.forecast),
                "forecast_lower": None if self.forecast_lower is None else round(self.forecast_lower),
                "forecast_upper": None if self.forecast_upper is None else round(self.forecast_upper),
                "goal_probability": None if self.goal_probability is None else round(self.goal_probability, 3),
                "shortfall": self.shortfall, "under_delivery": self.under_delivery,
                "flight_over": self.flight_over, "reach": self.reach, "frequency": self.frequency, "spend": self.spend,
                "makegoods": [{"podcast_id": m.podcast_id, "podcast": m.podcast, "release": m.release.isoformat(),
                               "expected_impressions": m.expected_impressions} for m in self.makegoods]}


def suggest_makegoods(shortfall: float, candidates: list[Makegood], limit: int = MAKEGOOD_LIMIT) -> list[Makegood]:
    """The earliest upcoming episodes whose expected impressions together cover the shortfall."""
    chosen, covered = [], 0.0
    for c in sorted(candidates, key=lambda c: (c.release, -c.expected_impressions)):
        if covered >= shortfall or len(chosen) >= limit:
            break
        if c.expected_impressions > 0:
            chosen.append(c)
            covered += c.expected_impressions
    return chosen


def pacing(db: Database, ctx: TenantContext, campaign_id: int, as_of: date | None = None) -> Pacing:
    """Delivered against the prorated goal, the forecast to the flight's end from the shows' and episodes'
    forecasts (its 80% interval, the probability of reaching the goal), and when short, the upcoming episodes that
    would make it good."""
    as_of = as_of or datetime.now(timezone.utc).date()
    campaign = get_campaign(db, ctx, campaign_id)
    with db.session(ctx.tenant_id) as s:
        totals = s.execute(select(CampaignReach.impressions, CampaignReach.reach).where(
            CampaignReach.tenant_id == ctx.tenant_id, CampaignReach.campaign_id == campaign_id,
            CampaignReach.podcast_id == 0)).first()
        delivered_to = s.scalar(select(func.coalesce(func.sum(CampaignMetric.impressions), 0)).where(
            CampaignMetric.tenant_id == ctx.tenant_id, CampaignMetric.campaign_id == campaign_id,
            CampaignMetric.day <= as_of)) or 0
        placements = s.execute(select(Placement.podcast_id, Placement.episode_id, Placement.start_date,
                                      Placement.end_date, Placement.insertion).where(
            Placement.tenant_id == ctx.tenant_id, Placement.campaign_id == campaign_id)).all()
        coming = []
        for p in placements:  # each placement's forecast, times the share of it its ad reaches
            share = served_share(s, ctx.tenant_id, p.podcast_id, p.episode_id,
                                 served_countries(p.insertion, campaign.target_countries), as_of)
            coming += [replace(e, impressions=e.impressions * share)
                       for e in placement_expectations(s, ctx.tenant_id, [p], as_of)]
        candidates = _release_candidates(s, ctx.tenant_id, campaign, placements, as_of,
                                         campaign.end_date + timedelta(days=LAUNCH_DAYS))
    impressions, households = (int(totals[0]), int(totals[1])) if totals else (0, 0)
    delivered = int(delivered_to)
    goal = campaign.goal_impressions
    expected = expected_to_date(goal, campaign.start_date, campaign.end_date, as_of) if goal else 0.0
    outlook = forecasts.delivery_forecast(delivered, coming, goal, seed=campaign_id)
    forecast = outlook.forecast
    shortfall = max(int(round(goal - forecast)), 0) if goal else 0
    open_flight = campaign.status not in ("completed", "cancelled") or as_of <= campaign.end_date
    makegoods = suggest_makegoods(shortfall, candidates) if shortfall and open_flight else []
    return Pacing(as_of=as_of, goal=goal, delivered=delivered, expected=expected,
                  pace=(delivered / expected) if expected else None, forecast=forecast, shortfall=shortfall,
                  under_delivery=bool(shortfall), reach=households,
                  frequency=round(impressions / households, 2) if households else 0.0,
                  spend=spend_to_date(campaign.pricing, delivered, campaign.cpm, campaign.flat_fee,
                                      campaign.start_date, campaign.end_date, as_of),
                  makegoods=[] if ctx.is_sponsor else makegoods,  # a makegood is the seller's call
                  flight_over=as_of > campaign.end_date, forecast_lower=outlook.lower,
                  forecast_upper=outlook.upper, goal_probability=outlook.probability)


def served_share(s: Session, tenant_id: int, podcast_id: int, episode_id: int | None,
                 countries: tuple[str, ...] | None, as_of: date) -> float:
    """The share of a show's downloads (or one episode's, once it has some) in the SHARE_DAYS before as_of that come
    from `countries`: what of its forecast a dynamically inserted ad reaches. 1.0 for None (every download) or no
    downloads yet to tell."""
    if countries is None:
        return 1.0
    first, last = as_of - timedelta(days=SHARE_DAYS), as_of - timedelta(days=1)
    scopes = []
    if episode_id is not None:
        m = view(EpisodeGeoDailyMetric).c
        scopes.append((m, m.episode_id == episode_id))
    m = view(PodcastGeoDailyMetric).c
    scopes.append((m, m.podcast_id == podcast_id))
    for m, scope in scopes:
        total, served = s.execute(select(
            func.coalesce(func.sum(m.downloads), 0),
            func.coalesce(func.sum(case((m.country.in_(countries), m.downloads), else_=0)), 0)).where(
            m.tenant_id == tenant_id, scope, m.day.between(first, last))).one()
        if total:
            return float(served) / float(total)
    return 1.0


def _release_candidates(s: Session, tenant_id: int, campaign: CampaignDetail, placements, as_of: date,
                        until: date) -> list[Makegood]:
    """Upcoming episodes that add inventory: any show's releases after as_of, except those a show-wide placement
    already carries (they are in the forecast) and shows in the campaign's excluded categories. Each is expected to
    deliver what its show's recent episodes did in their first LAUNCH_DAYS days."""
    em = view(EpisodeDailyMetric).c
    excluded = {c.lower() for c in campaign.excluded_categories}
    covered = [(p.podcast_id, p.start_date, p.end_date) for p in placements if p.episode_id is None]
    out = []
    for podcast_id, title, category in s.execute(select(Podcast.id, Podcast.title, Podcast.category).where(
            Podcast.tenant_id == tenant_id).order_by(Podcast.id)).all():
        if category and category.lower() in excluded:
            continue
        recent = s.execute(select(Episode.id, Episode.published_at).where(
            Episode.podcast_id == podcast_id, Episode.published_at.is_not(None),
            Episode.published_at < datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=timezone.utc))
            .order_by(Episode.published_at.desc()).limit(6)).all()
        releases = [day for day in upcoming_releases([p for _, p in recent], as_of, until)
                    if not any(pid == podcast_id and lo <= day <= hi for pid, lo, hi in covered)]
        if not releases:
            continue
        settled = [(i, p) for i, p in recent if (as_of - _as_date(p)).days >= LAUNCH_DAYS][:3] or recent[:3]
        launches = []
        for episode_id, published in settled:
            first = _as_date(published)
            launches.append(s.scalar(select(func.coalesce(func.sum(em.downloads), 0)).where(
                em.tenant_id == tenant_id, em.episode_id == episode_id,
                em.day.between(first, first + timedelta(days=LAUNCH_DAYS - 1)))) or 0)
        share = served_share(s, tenant_id, podcast_id, None,  # a makegood is a dynamic placement
                             served_countries("dynamic", campaign.target_countries), as_of)
        expected = int(float(np.median(launches)) * share) if launches else 0
        out += [Makegood(podcast_id, title, day, expected) for day in releases]
    return out


def _as_date(moment) -> date:
    return moment.date() if isinstance(moment, datetime) else moment
