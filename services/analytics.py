"""Dashboard questions answered from the daily rollups (never the raw downloads)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import func, select

from services.db import Database
from services.measurement.store import view
from services.models import Episode, Podcast, PodcastDailyMetric
from services.tenancy import TenantContext, require_staff


@dataclass(frozen=True)
class OverviewSummary:
    start: date
    end: date
    downloads: int
    previous_downloads: int
    avg_daily_listeners: float
    episodes_released: int
    podcasts: int

    @property
    def downloads_change(self) -> float | None:
        if not self.previous_downloads:
            return None
        return (self.downloads - self.previous_downloads) / self.previous_downloads


def _window(end: date | None, days: int) -> tuple[date, date]:
    end = end or date.today()
    return end - timedelta(days=days - 1), end


def overview_summary(db: Database, ctx: TenantContext, days: int = 30, end: date | None = None) -> OverviewSummary:
    """Headline numbers for the tenant over the last `days` days, with the previous period's downloads."""
    require_staff(ctx)
    start, end = _window(end, days)
    prev_start = start - timedelta(days=days)
    m = view(PodcastDailyMetric).c
    with db.session(ctx.tenant_id) as s:
        current = s.execute(
            select(func.coalesce(func.sum(m.downloads), 0), func.coalesce(func.sum(m.listeners), 0))
            .where(m.tenant_id == ctx.tenant_id, m.day.between(start, end))).one()
        previous = s.scalar(select(func.coalesce(func.sum(m.downloads), 0))
                            .where(m.tenant_id == ctx.tenant_id, m.day.between(prev_start, start - timedelta(days=1))))
        released = s.scalar(select(func.count(Episode.id)).where(
            Episode.tenant_id == ctx.tenant_id, func.date(Episode.published_at).between(start, end)))
        podcasts = s.scalar(select(func.count(Podcast.id)).where(Podcast.tenant_id == ctx.tenant_id))
    return OverviewSummary(start=start, end=end, downloads=int(current[0]), previous_downloads=int(previous or 0),
                           avg_daily_listeners=int(current[1]) / days, episodes_released=int(released or 0),
                           podcasts=int(podcasts or 0))


def downloads_by_day(db: Database, ctx: TenantContext, days: int = 90, end: date | None = None) -> pd.DataFrame:
    """Downloads per day per podcast: columns day, podcast, downloads, listeners; every day present."""
    require_staff(ctx)
    start, end = _window(end, days)
    m = view(PodcastDailyMetric).c
    with db.session(ctx.tenant_id) as s:
        rows = s.execute(
            select(m.day, Podcast.title, m.downloads, m.listeners)
            .join(Podcast, Podcast.id == m.podcast_id)
            .where(m.tenant_id == ctx.tenant_id, m.day.between(start, end))
            .order_by(m.day, Podcast.title)).all()
        titles = s.scalars(select(Podcast.title).where(Podcast.tenant_id == ctx.tenant_id).order_by(Podcast.title)).all()
    frame = pd.DataFrame(rows, columns=["day", "podcast", "downloads", "listeners"])
    if not titles:
        return frame
    grid = pd.MultiIndex.from_product([pd.date_range(start, end).date, titles], names=["day", "podcast"])
    frame = frame.set_index(["day", "podcast"]).reindex(grid, fill_value=0).reset_index()
    return frame.astype({"downloads": "int64", "listeners": "int64"})
