"""Campaign delivery: the campaign_metrics rollups (refreshed from counted downloads), and what pages and the API read
from them: delivery by day, show and episode; reach, frequency and spend; pacing, forecast and makegoods.

An impression is one counted download, inside a placement's flight (UTC days), of an episode the placement carries:
the one episode it names, or any episode of its show (dynamic insertion: every episode downloaded in the flight).
Two placements of one campaign on the same download are two impressions (two ad slots); reach counts each listener
key once per campaign. Listener keys are hashed with a monthly secret, so a flight across months can count one
household once per month."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Date, cast, delete, func, insert, literal, select, union_all
from sqlalchemy.orm import Session

from services.campaigns import (
    CampaignDetail, CampaignRow, get_campaign, list_campaigns, status_history, visible_campaign,
)
from services.db import Database
from services.errors import ValidationError
from services.measurement.store import view
from services.models import (
    Campaign, CampaignMetric, CampaignReach, Download, Episode, EpisodeDailyMetric, Placement, Podcast,
    PodcastDailyMetric,
)
from services.models.base import utcnow
from services.placements import list_placements
from services.tenancy import TenantContext

logger = logging.getLogger(__name__)

GROUPS = ("day", "podcast", "episode")
RECENT_DAYS = 28  # a show's recent daily downloads: the forecast's rate
LAUNCH_DAYS = 30  # an upcoming episode is expected to deliver what recent episodes did in their first 30 days
MAKEGOOD_LIMIT = 8


# --- refresh (jobs call these; they read the counted downloads) -------------------------------------------------

def _bounds(first: date, last: date) -> tuple[datetime, datetime]:
    return (datetime.combine(first, time.min, tzinfo=timezone.utc),
            datetime.combine(last + timedelta(days=1), time.min, tzinfo=timezone.utc))


def _utc_day(s: Session, ts):
    if s.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", ts), Date)
    return func.date(ts)


def _carried(d, tenant_id: int, placement: Placement) -> tuple:
    """The downloads a placement carries: its episode (or any of its show's), inside its flight's UTC days."""
    start, end = _bounds(placement.start_date, placement.end_date)
    target = (d.episode_id == placement.episode_id if placement.episode_id is not None
              else d.podcast_id == placement.podcast_id)
    return d.tenant_id == tenant_id, d.ts >= start, d.ts < end, target


def refresh_campaign_in_session(s: Session, tenant_id: int, campaign_id: int) -> int:
    """Replace the campaign's rollup rows from the counted downloads (the caller commits); returns impressions.

    Aggregated in the database, so the cost tracks the rollup's size, not the downloads'. The downloads table itself
    is read, filtered by tenant as the counting job does: a refresh also runs in the demo seed's system transaction,
    where the tenant views (keyed on app.tenant_id) show nothing."""
    placements = list(s.scalars(select(Placement).where(Placement.tenant_id == tenant_id,
                                                        Placement.campaign_id == campaign_id)))
    s.execute(delete(CampaignMetric).where(CampaignMetric.tenant_id == tenant_id,
                                           CampaignMetric.campaign_id == campaign_id))
    s.execute(delete(CampaignReach).where(CampaignReach.tenant_id == tenant_id,
                                          CampaignReach.campaign_id == campaign_id))
    d = Download.__table__.c
    day = _utc_day(s, d.ts)
    columns = ["tenant_id", "campaign_id", "placement_id", "episode_id", "day", "podcast_id", "impressions",
               "listeners"]
    for p in placements:
        rows = (select(literal(tenant_id, BigInteger), literal(campaign_id, BigInteger), literal(p.id, BigInteger),
                       d.episode_id, day, d.podcast_id, func.count(), func.count(func.distinct(d.listener_key)))
                .where(*_carried(d, tenant_id, p)).group_by(d.episode_id, day, d.podcast_id))
        s.execute(insert(CampaignMetric).from_select(columns, rows))
    now = utcnow()
    totals = {0: (0, 0)}
    if placements:
        parts = [select(d.podcast_id, d.listener_key).where(*_carried(d, tenant_id, p)) for p in placements]
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
    with db.session(tenant_id) as s:
        impressions = refresh_campaign_in_session(s, tenant_id, campaign_id)
        s.commit()
    logger.info("campaign delivery refreshed", extra={"tenant_id": tenant_id, "campaign_id": campaign_id,
                                                      "impressions": impressions})
    return impressions


def campaigns_to_refresh(db: Database, tenant_id: int, since: date | None = None) -> list[int]:
    """Campaigns with a placement whose flight reaches `since` or later (all of them when None)."""
    with db.session(tenant_id) as s:
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
    """Impressions grouped by day (every flight day present, with distinct listeners per day), podcast or episode."""
    if group_by not in GROUPS:
        raise ValidationError(f"group_by must be one of {', '.join(GROUPS)}", {"group_by": "day, podcast or episode"})
    campaign = get_campaign(db, ctx, campaign_id)
    first, last = _check_range(campaign, first, last)
    m = CampaignMetric
    where = (m.tenant_id == ctx.tenant_id, m.campaign_id == campaign_id, m.day.between(first, last))
    with db.session(ctx.tenant_id) as s:
        if group_by == "day":
            rows = s.execute(select(m.day, func.sum(m.impressions), func.sum(m.listeners)).where(*where)
                             .group_by(m.day).order_by(m.day)).all()
            frame = pd.DataFrame(rows, columns=["day", "impressions", "listeners"])
            frame["day"] = pd.to_datetime(frame["day"]).dt.date if len(frame) else frame["day"]
            days = pd.date_range(first, last).date
            frame = frame.set_index("day").reindex(days, fill_value=0).rename_axis("day").reset_index()
        elif group_by == "podcast":
            rows = s.execute(select(m.podcast_id, Podcast.title, func.sum(m.impressions))
                             .join(Podcast, Podcast.id == m.podcast_id).where(*where)
                             .group_by(m.podcast_id, Podcast.title).order_by(func.sum(m.impressions).desc())).all()
            frame = pd.DataFrame(rows, columns=["podcast_id", "podcast", "impressions"])
        else:
            rows = s.execute(select(m.episode_id, Episode.title, Podcast.title, func.sum(m.impressions))
                             .join(Episode, Episode.id == m.episode_id).join(Podcast, Podcast.id == m.podcast_id)
                             .where(*where).group_by(m.episode_id, Episode.title, Podcast.title)
                             .order_by(func.sum(m.impressions).desc(), m.episode_id)).all()
            frame = pd.DataFrame(rows, columns=["episode_id", "episode", "podcast", "impressions"])
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
    frame = pd.DataFrame(rows, columns=["podcast_id", "podcast", "impressions", "reach"])
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


# --- pacing and forecast (pure functions on constructed histories) ----------------------------------------------

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


def recent_daily_rate(daily: pd.Series, as_of: date, days: int = RECENT_DAYS) -> float:
    """Mean downloads a day over the `days` days to as_of (a missing day counts 0); `daily` is indexed by date."""
    window = pd.date_range(as_of - timedelta(days=days - 1), as_of).date
    return float(daily.reindex(window, fill_value=0).mean()) if len(window) else 0.0


def forecast_remaining(rates: list[tuple[float, date, date]], as_of: date) -> float:
    """Impressions still to come: each placement's daily rate times its flight days after as_of."""
    total = 0.0
    for rate, start, end in rates:
        first = max(start, as_of + timedelta(days=1))
        if end >= first:
            total += rate * ((end - first).days + 1)
    return total


def upcoming_releases(published: list[datetime], as_of: date, until: date) -> list[date]:
    """Release days expected after as_of up to `until`, from the median gap of the show's last releases."""
    days = sorted({p.date() if isinstance(p, datetime) else p for p in published})[-6:]
    if len(days) < 2:
        return []
    gap = int(np.median(np.diff([d.toordinal() for d in days])))
    if gap <= 0:
        return []
    out, nxt = [], days[-1] + timedelta(days=gap)
    while nxt <= until:
        if nxt > as_of:
            out.append(nxt)
        nxt += timedelta(days=gap)
    return out


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

    def as_dict(self) -> dict:
        return {"as_of": self.as_of.isoformat(), "goal": self.goal, "delivered": self.delivered,
                "expected": round(self.expected), "pace": None if self.pace is None else round(self.pace, 3),
                "forecast": round(self.forecast), "shortfall": self.shortfall, "under_delivery": self.under_delivery,
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
    """Delivered against the prorated goal, the forecast to the flight's end from the shows' recent downloads, and
    when short, the upcoming episodes that would make it good."""
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
                                      Placement.end_date).where(Placement.tenant_id == ctx.tenant_id,
                                                                Placement.campaign_id == campaign_id)).all()
        rates = _placement_rates(s, ctx.tenant_id, placements, as_of)
        candidates = _release_candidates(s, ctx.tenant_id, campaign, placements, as_of,
                                         campaign.end_date + timedelta(days=LAUNCH_DAYS))
    impressions, households = (int(totals[0]), int(totals[1])) if totals else (0, 0)
    delivered = int(delivered_to)
    goal = campaign.goal_impressions
    expected = expected_to_date(goal, campaign.start_date, campaign.end_date, as_of) if goal else 0.0
    forecast = delivered + forecast_remaining(rates, as_of)
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
                  flight_over=as_of > campaign.end_date)


def _placement_rates(s: Session, tenant_id: int, placements, as_of: date) -> list[tuple[float, date, date]]:
    """Each placement's expected impressions per day: its show's (or episode's) mean over the recent days."""
    if not placements:
        return []
    lo = as_of - timedelta(days=RECENT_DAYS - 1)
    pm, em = view(PodcastDailyMetric).c, view(EpisodeDailyMetric).c
    show_ids = {p.podcast_id for p in placements if p.episode_id is None}
    episode_ids = {p.episode_id for p in placements if p.episode_id is not None}
    shows, episodes = {}, {}
    if show_ids:
        rows = s.execute(select(pm.podcast_id, pm.day, pm.downloads).where(
            pm.tenant_id == tenant_id, pm.podcast_id.in_(show_ids), pm.day.between(lo, as_of))).all()
        shows = _series_by(rows)
    if episode_ids:
        rows = s.execute(select(em.episode_id, em.day, func.sum(em.downloads)).where(
            em.tenant_id == tenant_id, em.episode_id.in_(episode_ids), em.day.between(lo, as_of))
            .group_by(em.episode_id, em.day)).all()
        # An episode's downloads fade: its rate is the mean of the last week only.
        episodes = _series_by(rows)
    out = []
    for p in placements:
        if p.episode_id is None:
            rate = recent_daily_rate(shows.get(p.podcast_id, pd.Series(dtype=float)), as_of)
        else:
            rate = recent_daily_rate(episodes.get(p.episode_id, pd.Series(dtype=float)), as_of, days=7)
        out.append((rate, p.start_date, p.end_date))
    return out


def _series_by(rows) -> dict[int, pd.Series]:
    frame = pd.DataFrame(rows, columns=["key", "day", "downloads"])
    if frame.empty:
        return {}
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return {int(k): g.groupby("day")["downloads"].sum().astype(float) for k, g in frame.groupby("key")}


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
        expected = int(np.median(launches)) if launches else 0
        out += [Makegood(podcast_id, title, day, expected) for day in releases]
    return out


def _as_date(moment) -> date:
    return moment.date() if isinstance(moment, datetime) else moment


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
    pacing: Pacing
    can_manage: bool


def campaign_report(db: Database, ctx: TenantContext, campaign_id: int, as_of: date | None = None) -> CampaignReport:
    campaign = get_campaign(db, ctx, campaign_id)
    return CampaignReport(
        campaign=campaign, placements=list_placements(db, ctx, campaign_id),
        history=status_history(db, ctx, campaign_id),
        daily=delivery_by(db, ctx, campaign_id, "day"), by_show=delivery_by(db, ctx, campaign_id, "podcast"),
        by_episode=delivery_by(db, ctx, campaign_id, "episode"), reach=reach(db, ctx, campaign_id),
        pacing=pacing(db, ctx, campaign_id, as_of), can_manage=ctx.can("editor") and not ctx.is_sponsor)
