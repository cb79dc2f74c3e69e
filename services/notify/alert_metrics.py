"""What an alert rule's metric reads as now and over the previous period. Rollups only: the daily download rollups
through the tenant views (services.measurement.store.view), the campaign delivery rollups through pacing, the log
imports and the catalog's feed state; never the raw downloads."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.db import Database
from services.errors import NotFound
from services.measurement.store import view
from services.models import Episode, EpisodeDailyMetric, LogImport, Podcast, PodcastDailyMetric
from services.notify.alert_rules import Reading, daily_mean, last_complete_day, total, window
from services.sponsorship import pacing
from services.tenancy import TenantContext


@dataclass(frozen=True)
class RuleSpec:
    """A rule's plain values, read once so the metric is measured outside the transaction that records the state."""

    id: int
    tenant_id: int
    name: str
    metric: str
    target_id: int | None
    condition: str
    threshold: float | None
    window_days: int
    rearm_hours: int
    channels: tuple[str, ...]
    recipients: tuple[int, ...]


def read_metric(db: Database, spec: RuleSpec, now: datetime) -> Reading:
    return READERS[spec.metric](db, spec, now)


def _as_date(value) -> date:
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


def _daily(rows) -> dict[date, float]:
    out: dict[date, float] = {}
    for day, downloads in rows:
        out[_as_date(day)] = out.get(_as_date(day), 0.0) + float(downloads or 0)
    return out


def show_downloads(db: Database, spec: RuleSpec, now: datetime) -> Reading:
    """Mean downloads a day over the window's whole UTC days (one show, or every show), and over the days before."""
    first, last = window(last_complete_day(now), spec.window_days)
    prev_first, prev_last = window(first - timedelta(days=1), spec.window_days)
    pm = view(PodcastDailyMetric).c
    stmt = select(pm.day, func.sum(pm.downloads)).where(pm.tenant_id == spec.tenant_id,
                                                         pm.day.between(prev_first, last)).group_by(pm.day)
    if spec.target_id is not None:
        stmt = stmt.where(pm.podcast_id == spec.target_id)
    with db.session(spec.tenant_id) as s:
        daily = _daily(s.execute(stmt).all())
    return Reading(daily_mean(daily, first, last), daily_mean(daily, prev_first, prev_last),
                   f"{first.isoformat()} to {last.isoformat()}")


def episode_launch(db: Database, spec: RuleSpec, now: datetime) -> Reading:
    """Downloads of the episode in its first `window_days` UTC days (no data until those days are over); the previous
    period is the show's episode before it, over its own first days."""
    with db.session(spec.tenant_id) as s:
        episode = s.execute(select(Episode.podcast_id, Episode.published_at).where(
            Episode.tenant_id == spec.tenant_id, Episode.id == spec.target_id)).first()
        if episode is None or episode.published_at is None:
            return Reading(None, detail="the episode is missing or has no publication date")
        first, last = _launch_days(episode.published_at, spec.window_days)
        if last > last_complete_day(now):
            return Reading(None, detail=f"its first {spec.window_days} days end on {last.isoformat()}")
        before = s.execute(select(Episode.id, Episode.published_at).where(
            Episode.tenant_id == spec.tenant_id, Episode.podcast_id == episode.podcast_id,
            Episode.published_at < episode.published_at).order_by(Episode.published_at.desc()).limit(1)).first()
        value = _launch_total(s, spec.tenant_id, spec.target_id, first, last)
        previous = None
        if before is not None:
            previous = _launch_total(s, spec.tenant_id, before.id, *_launch_days(before.published_at,
                                                                                 spec.window_days))
    return Reading(value, previous, f"{first.isoformat()} to {last.isoformat()}")


def _launch_days(published: datetime, days: int) -> tuple[date, date]:
    """The UTC days first..first + days - 1 from the publication (SQLite hands back naive UTC datetimes)."""
    first = (published.astimezone(timezone.utc) if published.tzinfo else published).date()
    return first, first + timedelta(days=days - 1)


def _launch_total(s: Session, tenant_id: int, episode_id: int, first: date, last: date) -> float:
    em = view(EpisodeDailyMetric).c
    rows = s.execute(select(em.day, func.sum(em.downloads)).where(
        em.tenant_id == tenant_id, em.episode_id == episode_id, em.day.between(first, last)).group_by(em.day)).all()
    return total(_daily(rows), first, last)


def campaign_pacing(db: Database, spec: RuleSpec, now: datetime) -> Reading:
    """Delivered as a percent of the delivery expected to date (services.sponsorship.pacing), now and `window_days`
    earlier; no data before the flight or without a goal."""
    ctx = TenantContext(tenant_id=spec.tenant_id, role="owner")  # the rule's tenant, read on its behalf
    try:
        current = pacing.pacing(db, ctx, spec.target_id, now.date())
        earlier = pacing.pacing(db, ctx, spec.target_id, now.date() - timedelta(days=spec.window_days))
    except NotFound:
        return Reading(None, detail="the campaign is missing")
    return Reading(_pace_pct(current), _pace_pct(earlier), f"as of {now.date().isoformat()}")


def _pace_pct(p: pacing.Pacing) -> float | None:
    return None if p.pace is None else round(p.pace * 100.0, 2)


def import_failures(db: Database, spec: RuleSpec, now: datetime) -> Reading:
    """Log imports that failed in the last `window_days` days, and in the days before."""
    span = timedelta(days=spec.window_days)
    with db.session(spec.tenant_id) as s:
        current = _failed_imports(s, spec.tenant_id, now - span, now)
        previous = _failed_imports(s, spec.tenant_id, now - 2 * span, now - span)
    return Reading(float(current), float(previous), f"the last {spec.window_days} days")


def _failed_imports(s: Session, tenant_id: int, start: datetime, end: datetime) -> int:
    return s.scalar(select(func.count()).select_from(LogImport).where(
        LogImport.tenant_id == tenant_id, LogImport.status == "failed", LogImport.created_at >= start,
        LogImport.created_at < end)) or 0


def feed_errors(db: Database, spec: RuleSpec, now: datetime) -> Reading:
    """Feeds (one show's, or every show's) whose last fetch failed: the catalog keeps the last fetch's error."""
    stmt = select(func.count()).select_from(Podcast).where(Podcast.tenant_id == spec.tenant_id,
                                                           Podcast.feed_error.is_not(None))
    if spec.target_id is not None:
        stmt = stmt.where(Podcast.id == spec.target_id)
    with db.session(spec.tenant_id) as s:
        return Reading(float(s.scalar(stmt) or 0), detail="the last fetch of each feed")


READERS = {"show_downloads": show_downloads, "episode_launch": episode_launch, "campaign_pacing": campaign_pacing,
           "import_failures": import_failures, "feed_errors": feed_errors}
