"""Campaign delivery: the campaign_metrics rollups (refreshed from counted downloads), and what pages and the API read
from them: delivery by day, show and episode; reach and frequency; the campaign page's report (pacing: services.sponsorship.pacing).

An impression is one counted download, inside a placement's flight (UTC days), of an episode the placement carries:
the one episode it names, or any episode of its show (every episode downloaded in the flight). A dynamically
inserted ad is served only to downloads from the campaign's target countries (none listed: everywhere), so only
those count; a download whose country is unknown is not known to be in a target and does not count. An ad baked
into the audio is heard by every download, so every one counts. Two placements of one campaign on the same download
are two impressions (two ad slots); reach counts each listener key once per campaign. Listener keys are hashed with
a monthly secret, so a flight across months can count one household once per month."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import pandas as pd
from sqlalchemy import BigInteger, Date, cast, delete, func, insert, literal, select, union_all
from sqlalchemy.orm import Session

from services.frames import frame_of
from services.sponsorship.campaigns import (
    CampaignDetail, CampaignRow, get_campaign, list_campaigns, status_history, visible_campaign,
)
from services.sponsorship import pacing
from services.db import Database
from services.errors import ValidationError
from services.models import Campaign, CampaignMetric, CampaignReach, Download, Episode, Placement, Podcast
from services.models.base import utcnow
from services.sponsorship.placements import list_placements, served_countries
from services.tenancy import TenantContext

logger = logging.getLogger(__name__)

GROUPS = ("day", "podcast", "episode", "country")
UNKNOWN_COUNTRY = "ZZ"  # the rollup's country for a download without one


# --- refresh (jobs call these; they read the counted downloads) -------------------------------------------------

def _bounds(first: date, last: date) -> tuple[datetime, datetime]:
    return (datetime.combine(first, time.min, tzinfo=timezone.utc),
            datetime.combine(last + timedelta(days=1), time.min, tzinfo=timezone.utc))


def _utc_day(s: Session, ts):
    if s.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", ts), Date)
    return func.date(ts)


def _carried(d, tenant_id: int, placement: Placement, target_countries=()) -> tuple:
    """The downloads a placement carries: its episode (or any of its show's), inside its flight's UTC days, and for
    a dynamically inserted ad, from the campaign's target countries."""
    start, end = _bounds(placement.start_date, placement.end_date)
    target = (d.episode_id == placement.episode_id if placement.episode_id is not None
              else d.podcast_id == placement.podcast_id)
    countries = served_countries(getattr(placement, "insertion", None), target_countries)
    served = () if countries is None else (d.country.in_(countries),)
    return d.tenant_id == tenant_id, d.ts >= start, d.ts < end, *served, target  # target last: matching reverses


def refresh_campaign_in_session(s: Session, tenant_id: int, campaign_id: int) -> int:
    """Replace the campaign's rollup rows from the counted downloads (the caller commits); returns impressions.

    Aggregated in the database, so the cost tracks the rollup's size, not the downloads'. The downloads table itself
    is read, filtered by tenant as the counting job does: a refresh also runs in the demo seed's system transaction,
    where the tenant views (keyed on app.tenant_id) show nothing."""
    placements = list(s.scalars(select(Placement).where(Placement.tenant_id == tenant_id,
                                                        Placement.campaign_id == campaign_id)))
    targets = s.scalar(select(Campaign.target_countries).where(Campaign.tenant_id == tenant_id,
                                                                Campaign.id == campaign_id)) or []
    s.execute(delete(CampaignMetric).where(CampaignMetric.tenant_id == tenant_id,
                                           CampaignMetric.campaign_id == campaign_id))
    s.execute(delete(CampaignReach).where(CampaignReach.tenant_id == tenant_id,
                                          CampaignReach.campaign_id == campaign_id))
    d = Download.__table__.c
    day = _utc_day(s, d.ts)
    country = func.coalesce(d.country, UNKNOWN_COUNTRY)
    columns = ["tenant_id", "campaign_id", "placement_id", "episode_id", "day", "country", "podcast_id",
               "impressions", "listeners"]
    for p in placements:
        rows = (select(literal(tenant_id, BigInteger), literal(campaign_id, BigInteger), literal(p.id, BigInteger),
                       d.episode_id, day, country, d.podcast_id, func.count(),
                       func.count(func.distinct(d.listener_key)))
                .where(*_carried(d, tenant_id, p, targets)).group_by(d.episode_id, day, country, d.podcast_id))
        s.execute(insert(CampaignMetric).from_select(columns, rows))
    now = utcnow()
    totals = {0: (0, 0)}
    if placements:
        parts = [select(d.podcast_id, d.listener_key).where(*_carried(d, tenant_id, p, targets)) for p in placements]
        carried = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery()
        reach_of = func.count(func.distinct(carried.c.listener_key))
        totals[0] = tuple(s.execute(select(func.count(), reach_of).select_from(carried)).one())
        for podcast_id, impressions, households in s.execute(
                select(carried.c.podcast_id, func.count(), reach_of).group_by(carried.c.podcast_id)).all():
            totals[int(podcast_id)] = (impressions, households)
    s.execute(CampaignReach.__table__.insert(), [
        {"tenant_id": tenant_id, "campaign_id": campaign_id, "podcast_id": podcast_id, "impressions": int(n),
         "reach": int(r), "refreshed_at": now} for podcast_id, (n, r) in sorted(totals.items())])
    return int(totals[0][0])


def refresh_campaign(db: Database, tenant_id: int, campaign_id: int) -> int:
    """Idempotent: the campaign's delivery rows are deleted and rebuilt in one transaction."""
    with db.session(tenant_id, worker=True) as s:
        impressions = refresh_campaign_in_session(s, tenant_id, campaign_id)
        s.commit()
    logger.info("campaign delivery refreshed", extra={"tenant_id": tenant_id, "campaign_id": campaign_id,
                                                      "impressions": impressions})
    return impressions


def campaigns_to_refresh(db: Database, tenant_id: int, since: date | None = None) -> list[int]:
    """Campaigns with a placement whose flight reaches `since` or later (all of them when None)."""
    with db.session(tenant_id, worker=True) as s:
        stmt = select(Placement.campaign_id).where(Placement.tenant_id == tenant_id).distinct()
        if since is not None:
            stmt = stmt.where(Placement.end_date >= since)
        return sorted(s.scalars(stmt))


def refresh_tenant_in_session(s: Session, tenant_id: int) -> int:
    """Every campaign of the tenant (demo seed; the caller commits); returns the number of campaigns."""
    ids = sorted(s.scalars(select(Campaign.id).where(Campaign.tenant_id == tenant_id)))
    for campaign_id in ids:
        refresh_campaign_in_session(s, tenant_id, campaign_id)
    return len(ids)


# --- reading (pages, callbacks and the API: campaign_metrics and rollups only) ---------------------------------

def _check_range(campaign: CampaignDetail, first: date | None, last: date | None) -> tuple[date, date]:
    first, last = first or campaign.start_date, last or campaign.end_date
    if last < first:
        raise ValidationError("from is after to", {"from": "on or before to"})
    return first, last


def parse_day(value: str | None, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{name}: {value!r} is not a date", {name: "a date as YYYY-MM-DD"}) from None


def delivery_by(db: Database, ctx: TenantContext, campaign_id: int, group_by: str = "day",
                first: date | None = None, last: date | None = None) -> pd.DataFrame:
    """Impressions grouped by day (every flight day present, with distinct listeners per day), podcast, episode or
    listener country ('ZZ': unknown)."""
    if group_by not in GROUPS:
        raise ValidationError(f"group_by must be one of {', '.join(GROUPS)}",
                              {"group_by": "day, podcast, episode or country"})
    campaign = get_campaign(db, ctx, campaign_id)
    first, last = _check_range(campaign, first, last)
    m = CampaignMetric
    where = (m.tenant_id == ctx.tenant_id, m.campaign_id == campaign_id, m.day.between(first, last))
    with db.session(ctx.tenant_id) as s:
        if group_by == "day":
            rows = s.execute(select(m.day, func.sum(m.impressions), func.sum(m.listeners)).where(*where)
                             .group_by(m.day).order_by(m.day)).all()
            frame = frame_of(rows, ["day", "impressions", "listeners"])
            frame["day"] = pd.to_datetime(frame["day"]).dt.date if len(frame) else frame["day"]
            days = pd.date_range(first, last).date
            frame = frame.set_index("day").reindex(days, fill_value=0).rename_axis("day").reset_index()
        elif group_by == "podcast":
            rows = s.execute(select(m.podcast_id, Podcast.title, func.sum(m.impressions))
                             .join(Podcast, Podcast.id == m.podcast_id).where(*where)
                             .group_by(m.podcast_id, Podcast.title).order_by(func.sum(m.impressions).desc())).all()
            frame = frame_of(rows, ["podcast_id", "podcast", "impressions"])
        elif group_by == "country":
            rows = s.execute(select(m.country, func.sum(m.impressions)).where(*where).group_by(m.country)
                             .order_by(func.sum(m.impressions).desc(), m.country)).all()
            frame = frame_of(rows, ["country", "impressions"])
        else:
            rows = s.execute(select(m.episode_id, Episode.title, Podcast.title, func.sum(m.impressions))
                             .join(Episode, Episode.id == m.episode_id).join(Podcast, Podcast.id == m.podcast_id)
                             .where(*where).group_by(m.episode_id, Episode.title, Podcast.title)
                             .order_by(func.sum(m.impressions).desc(), m.episode_id)).all()
            frame = frame_of(rows, ["episode_id", "episode", "podcast", "impressions"])
    numeric = [c for c in ("impressions", "listeners") if c in frame]
    return frame.astype({c: "int64" for c in numeric})


def reach(db: Database, ctx: TenantContext, campaign_id: int) -> pd.DataFrame:
    """Reach and frequency over the flight: one row per show and a total row (podcast_id 0, podcast 'All shows')."""
    with db.session(ctx.tenant_id) as s:
        visible_campaign(s, ctx, campaign_id)
        r = CampaignReach
        rows = s.execute(select(r.podcast_id, Podcast.title, r.impressions, r.reach)
                         .outerjoin(Podcast, Podcast.id == r.podcast_id)
                         .where(r.tenant_id == ctx.tenant_id, r.campaign_id == campaign_id)
                         .order_by(r.podcast_id)).all()
    frame = frame_of(rows, ["podcast_id", "podcast", "impressions", "reach"])
    frame["podcast"] = frame["podcast"].fillna("All shows")
    frame["frequency"] = (frame["impressions"] / frame["reach"].where(frame["reach"] > 0)).fillna(0.0).round(2)
    return frame


@dataclass(frozen=True)
class CampaignSummary:
    campaign: CampaignRow
    impressions: int
    reach: int

    @property
    def goal_share(self) -> float | None:
        goal = self.campaign.goal_impressions
        return self.impressions / goal if goal else None


def campaign_summaries(db: Database, ctx: TenantContext) -> list[CampaignSummary]:
    """The campaigns list with each one's delivery so far (a sponsor user: only their own)."""
    rows = list_campaigns(db, ctx)
    with db.session(ctx.tenant_id) as s:
        totals = {cid: (int(n), int(r)) for cid, n, r in s.execute(
            select(CampaignReach.campaign_id, CampaignReach.impressions, CampaignReach.reach).where(
                CampaignReach.tenant_id == ctx.tenant_id, CampaignReach.podcast_id == 0,
                CampaignReach.campaign_id.in_([c.id for c in rows]))).all()}
    return [CampaignSummary(c, *totals.get(c.id, (0, 0))) for c in rows]


@dataclass(frozen=True)
class CampaignReport:
    """Everything the campaign page shows, read in one call."""

    campaign: CampaignDetail
    placements: list
    history: list
    daily: pd.DataFrame
    by_show: pd.DataFrame
    by_episode: pd.DataFrame
    reach: pd.DataFrame
    pacing: pacing.Pacing
    can_manage: bool


def campaign_report(db: Database, ctx: TenantContext, campaign_id: int, as_of: date | None = None,
                    first: date | None = None, last: date | None = None) -> CampaignReport:
    """Delivery by day, show and episode over [first, last] (the flight by default), pacing as of `as_of`."""
    campaign = get_campaign(db, ctx, campaign_id)
    return CampaignReport(
        campaign=campaign, placements=list_placements(db, ctx, campaign_id),
        history=status_history(db, ctx, campaign_id),
        daily=delivery_by(db, ctx, campaign_id, "day", first, last),
        by_show=delivery_by(db, ctx, campaign_id, "podcast", first, last),
        by_episode=delivery_by(db, ctx, campaign_id, "episode", first, last), reach=reach(db, ctx, campaign_id),
        pacing=pacing.pacing(db, ctx, campaign_id, as_of), can_manage=ctx.can("editor") and not ctx.is_sponsor)
