"""What matchmaking reads, in a handful of grouped queries per network: the shows, their recent daily downloads,
country and app mix (the download rollups through the tenant views), every placement with its sponsor's industry,
and the attributed results per campaign and show (the attribution rollup and the delivery rollup).
Nothing here reads the raw downloads."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.measurement.store import view
from services.models import (
    Campaign, CampaignReach, Placement, Podcast, PodcastAppDailyMetric, PodcastDailyMetric, PodcastGeoDailyMetric,
    Sponsor,
)
from services.models.attribution import AttributionDaily, AttributionRun
from services.sponsorship.attribution.matching import _source
from services.sponsorship.attribution.report import TENANT_DAILY
from services.sponsorship.match_scoring import audience_mix

MIX_DAYS = 90  # the audience mix and the country share read the last 90 days
CREDIT_MODEL = "linear"  # past performance counts linear credit
RECENT_DAYS = 28  # a show's recent daily downloads: the inventory factor's rate


@dataclass(frozen=True)
class Show:
    id: int
    title: str
    category: str | None


@dataclass(frozen=True)
class PlacementFact:
    podcast_id: int
    campaign_id: int
    sponsor_id: int
    sponsor: str
    campaign: str
    industry: str | None
    status: str
    start_date: date
    end_date: date


@dataclass(frozen=True)
class CampaignFacts:
    id: int
    name: str
    sponsor_id: int
    sponsor: str
    industry: str | None
    status: str
    start_date: date
    end_date: date
    pricing: str
    cpm: float | None
    flat_fee: float | None
    budget: float | None
    goal: int | None
    delivered: int
    target_categories: list
    target_countries: list
    excluded_categories: list
    sponsor_archived: bool = False


@dataclass(frozen=True)
class NetworkInputs:
    as_of: date
    shows: list[Show]
    daily_rate: dict[int, float]
    countries: dict[int, dict[str, float]]
    apps: dict[int, dict[str, float]]
    placements: list[PlacementFact]
    campaigns: dict[int, CampaignFacts]
    credit: dict[tuple[int, int], float]  # (campaign, show) -> attributed conversions
    impressions: dict[tuple[int, int], int]  # (campaign, show) -> delivered impressions
    attributed: frozenset[int]  # campaigns with a finished attribution run
    by_show: dict[int, list[PlacementFact]] = field(default_factory=dict)  # the placements per show
    mixes: dict[int, dict[str, float]] = field(default_factory=dict)  # each show's audience mix

    def placements_on(self, podcast_id: int) -> list[PlacementFact]:
        return self.by_show.get(podcast_id, [])


def _float(value) -> float | None:
    return None if value is None else float(value)


def _nested(rows) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = defaultdict(dict)
    for podcast_id, key, n in rows:
        out[int(podcast_id)][key or "unknown"] = float(n or 0)
    return dict(out)


def _daily_rates(s: Session, tenant_id: int, as_of: date) -> dict[int, float]:
    """Each show's mean downloads a day over the RECENT_DAYS days to as_of (a missing day counts 0), summed in the
    database."""
    pm = view(PodcastDailyMetric).c
    lo = as_of - timedelta(days=RECENT_DAYS - 1)
    rows = s.execute(select(pm.podcast_id, func.sum(pm.downloads)).where(
        pm.tenant_id == tenant_id, pm.day.between(lo, as_of)).group_by(pm.podcast_id)).all()
    return {int(podcast_id): float(total or 0) / RECENT_DAYS for podcast_id, total in rows}


def _mix_rows(s: Session, tenant_id: int, model, column: str, as_of: date):
    t = view(model).c
    lo = as_of - timedelta(days=MIX_DAYS - 1)
    return s.execute(select(t.podcast_id, t[column], func.sum(t.downloads)).where(
        t.tenant_id == tenant_id, t.day.between(lo, as_of)).group_by(t.podcast_id, t[column])).all()


def _campaigns(s: Session, tenant_id: int) -> dict[int, CampaignFacts]:
    delivered = dict(s.execute(select(CampaignReach.campaign_id, CampaignReach.impressions).where(
        CampaignReach.tenant_id == tenant_id, CampaignReach.podcast_id == 0)).all())
    rows = s.execute(select(Campaign, Sponsor.name, Sponsor.industry, Sponsor.archived_at)
                     .join(Sponsor, Sponsor.id == Campaign.sponsor_id).where(Campaign.tenant_id == tenant_id)).all()
    return {c.id: CampaignFacts(
        id=c.id, name=c.name, sponsor_id=c.sponsor_id, sponsor=sponsor, industry=industry, status=c.status,
        start_date=c.start_date, end_date=c.end_date, pricing=c.pricing, cpm=_float(c.cpm), flat_fee=_float(c.flat_fee),
        budget=_float(c.budget), goal=c.goal_impressions, delivered=int(delivered.get(c.id, 0) or 0),
        target_categories=list(c.target_categories or []), target_countries=list(c.target_countries or []),
        excluded_categories=list(c.excluded_categories or []), sponsor_archived=archived is not None)
        for c, sponsor, industry, archived in rows}


def _placements(s: Session, tenant_id: int, campaigns: dict[int, CampaignFacts]) -> list[PlacementFact]:
    rows = s.execute(select(Placement.podcast_id, Placement.campaign_id, Placement.start_date, Placement.end_date)
                     .where(Placement.tenant_id == tenant_id).order_by(Placement.id)).all()
    out = []
    for podcast_id, campaign_id, start, end in rows:
        c = campaigns[campaign_id]
        out.append(PlacementFact(podcast_id, campaign_id, c.sponsor_id, c.sponsor, c.name, c.industry, c.status,
                                 start, end))
    return out


def _results(s: Session, tenant_id: int) -> tuple[dict, dict, frozenset[int]]:
    t = _source(s, AttributionDaily.__table__, TENANT_DAILY)  # the attribution rollup, never the touchpoints
    credit = {(int(c), int(p)): float(n or 0) for c, p, n in s.execute(
        select(t.c.campaign_id, t.c.podcast_id, func.sum(t.c[CREDIT_MODEL])).where(t.c.tenant_id == tenant_id)
        .group_by(t.c.campaign_id, t.c.podcast_id)).all()}
    impressions = {(int(c), int(p)): int(n or 0) for c, p, n in s.execute(
        select(CampaignReach.campaign_id, CampaignReach.podcast_id, CampaignReach.impressions).where(
            CampaignReach.tenant_id == tenant_id, CampaignReach.podcast_id != 0)).all()}
    attributed = frozenset(int(c) for c in s.scalars(select(AttributionRun.campaign_id).where(
        AttributionRun.tenant_id == tenant_id, AttributionRun.status == "finished").distinct()))
    return credit, impressions, attributed


def load_network(s: Session, tenant_id: int, as_of: date) -> NetworkInputs:
    """Everything matchmaking needs about the network as of `as_of`, read in one session."""
    shows = [Show(int(i), t, c) for i, t, c in s.execute(
        select(Podcast.id, Podcast.title, Podcast.category).where(Podcast.tenant_id == tenant_id)
        .order_by(Podcast.id)).all()]
    campaigns = _campaigns(s, tenant_id)
    placements = _placements(s, tenant_id, campaigns)
    by_show: dict[int, list[PlacementFact]] = defaultdict(list)
    for p in placements:
        by_show[p.podcast_id].append(p)
    credit, impressions, attributed = _results(s, tenant_id)
    countries = _nested(_mix_rows(s, tenant_id, PodcastGeoDailyMetric, "country", as_of))
    apps = _nested(_mix_rows(s, tenant_id, PodcastAppDailyMetric, "app", as_of))
    return NetworkInputs(
        as_of=as_of, shows=shows, daily_rate=_daily_rates(s, tenant_id, as_of), countries=countries, apps=apps,
        mixes={show.id: audience_mix(countries.get(show.id, {}), apps.get(show.id, {})) for show in shows},
        placements=placements, campaigns=campaigns, credit=credit, impressions=impressions, attributed=attributed,
        by_show=dict(by_show))
