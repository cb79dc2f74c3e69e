"""Daily rollups of counted downloads, the only tables dashboards read; rebuilt incrementally per tenant."""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timezone

from sqlalchemy import Date, cast, delete, func, insert, select
from sqlalchemy.orm import Session

from services.models import Download, EpisodeDailyMetric, PodcastDailyMetric

logger = logging.getLogger(__name__)


def _day(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", Download.ts), Date)
    return func.date(Download.ts)


def refresh_daily_rollups(session: Session, tenant_id: int, since: date | None = None) -> int:
    """Recompute the tenant's daily rollups from `since` (all history when None); idempotent.

    Returns the number of episode-day rows written."""
    start = datetime.combine(since, time.min, tzinfo=timezone.utc) if since else None
    day = _day(session)
    for model in (PodcastDailyMetric, EpisodeDailyMetric):
        stmt = delete(model).where(model.tenant_id == tenant_id)
        if since:
            stmt = stmt.where(model.day >= since)
        session.execute(stmt)
    where = [Download.tenant_id == tenant_id] + ([Download.ts >= start] if start else [])
    podcast_rows = select(Download.podcast_id, day.label("day"), Download.tenant_id, func.count(),
                          func.count(Download.listener_key.distinct())).where(*where).group_by(
        Download.podcast_id, day, Download.tenant_id)
    session.execute(insert(PodcastDailyMetric).from_select(
        ["podcast_id", "day", "tenant_id", "downloads", "listeners"], podcast_rows))
    episode_rows = select(Download.episode_id, day.label("day"), Download.tenant_id, Download.podcast_id, func.count(),
                          func.count(Download.listener_key.distinct())).where(*where).group_by(
        Download.episode_id, day, Download.tenant_id, Download.podcast_id)
    session.execute(insert(EpisodeDailyMetric).from_select(
        ["episode_id", "day", "tenant_id", "podcast_id", "downloads", "listeners"], episode_rows))
    # psycopg reports no row count for INSERT ... SELECT, so count what the refresh wrote.
    counted = select(func.count()).select_from(EpisodeDailyMetric).where(EpisodeDailyMetric.tenant_id == tenant_id)
    return session.scalar(counted.where(EpisodeDailyMetric.day >= since) if since else counted) or 0
