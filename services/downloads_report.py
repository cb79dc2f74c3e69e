"""Downloads grouped by a dimension over a date range, read from the rollups (API and CSV exports)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import pandas as pd
from sqlalchemy import func, select

from services.db import Database
from services.errors import NotFound, ValidationError
from services.frames import frame_of
from services.measurement.store import view
from services.models import (
    Episode, EpisodeDailyMetric, Podcast, PodcastAppDailyMetric, PodcastDailyMetric, PodcastDeviceDailyMetric,
    PodcastGeoDailyMetric, PodcastHourlyMetric,
)
from services.tenancy import TenantContext, require_staff

MAX_DAYS = 3700


@dataclass(frozen=True)
class Grouping:
    model: type
    key: str  # column in the rollup
    label: str  # name in the answer
    per_episode: bool  # whether the rollup can answer for one episode


GROUPINGS = {
    "day": Grouping(PodcastDailyMetric, "day", "day", False),
    "hour": Grouping(PodcastHourlyMetric, "hour", "hour", False),
    "episode": Grouping(EpisodeDailyMetric, "episode_id", "episode_id", True),
    "app": Grouping(PodcastAppDailyMetric, "app", "app", False),
    "device": Grouping(PodcastDeviceDailyMetric, "device", "device", False),
    "country": Grouping(PodcastGeoDailyMetric, "country", "country", False),
}


def parse_range(first: str | None, last: str | None, default_days: int = 30) -> tuple[date, date]:
    """ISO dates from a query string; both inclusive. Bad input names the parameter."""
    try:
        last_day = date.fromisoformat(last) if last else datetime.now(timezone.utc).date()
    except ValueError:
        raise ValidationError(f"to: {last!r} is not a date (YYYY-MM-DD)", {"to": "not a date"}) from None
    try:
        first_day = date.fromisoformat(first) if first else last_day - timedelta(days=default_days - 1)
    except ValueError:
        raise ValidationError(f"from: {first!r} is not a date (YYYY-MM-DD)", {"from": "not a date"}) from None
    if first_day > last_day:
        raise ValidationError("from is after to", {"from": "after to"})
    if (last_day - first_day).days > MAX_DAYS:
        raise ValidationError(f"the range is longer than {MAX_DAYS} days", {"from": "range too long"})
    return first_day, last_day


def downloads_by(db: Database, ctx: TenantContext, group_by: str, first: date, last: date,
                 podcast_id: int | None = None, episode_id: int | None = None) -> pd.DataFrame:
    """Columns: the group key, downloads, listeners. Listeners are distinct per day (and per hour for `hour`),
    summed over the days of the range for other groupings."""
    require_staff(ctx)
    grouping = GROUPINGS.get(group_by)
    if grouping is None:
        raise ValidationError(f"group_by must be one of {', '.join(GROUPINGS)}", {"group_by": "unknown grouping"})
    if episode_id is not None and not grouping.per_episode and group_by != "day":
        raise ValidationError(f"group_by={group_by} is not available for one episode; use day or episode",
                              {"group_by": "not available per episode"})
    model = EpisodeDailyMetric if episode_id is not None else grouping.model
    v = view(model).c
    with db.read_session(ctx.tenant_id) as s:
        _check_owned(s, ctx, podcast_id, episode_id)
        key = getattr(v, grouping.key)
        stmt = select(key.label(grouping.label), func.sum(v.downloads).label("downloads"),
                      func.sum(v.listeners).label("listeners")).where(v.tenant_id == ctx.tenant_id)
        if group_by == "hour":
            stmt = stmt.where(v.hour >= datetime.combine(first, time.min, tzinfo=timezone.utc),
                              v.hour < datetime.combine(last + timedelta(days=1), time.min, tzinfo=timezone.utc))
        else:
            stmt = stmt.where(v.day.between(first, last))
        if podcast_id is not None:
            stmt = stmt.where(v.podcast_id == podcast_id)
        if episode_id is not None:
            stmt = stmt.where(v.episode_id == episode_id)
        rows = s.execute(stmt.group_by(key).order_by(key)).all()
    frame = frame_of(rows, [grouping.label, "downloads", "listeners"])
    return frame.astype({"downloads": "int64", "listeners": "int64"})


def _check_owned(s, ctx: TenantContext, podcast_id: int | None, episode_id: int | None) -> None:
    if podcast_id is not None and s.scalar(
            select(Podcast.id).where(Podcast.id == podcast_id, Podcast.tenant_id == ctx.tenant_id)) is None:
        raise NotFound(f"no podcast {podcast_id}")
    if episode_id is not None and s.scalar(
            select(Episode.id).where(Episode.id == episode_id, Episode.tenant_id == ctx.tenant_id)) is None:
        raise NotFound(f"no episode {episode_id}")
