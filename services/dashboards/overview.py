"""Overview (and one podcast's page): KPIs against the comparison period, downloads over time with release
markers, top episodes, apps and countries."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import case, func, select

from services.dashboards.cache import cached
from services.dashboards.common import (
    Scope, as_date, dashboard_scope, days_after, filtered, first_days, release_day,
)
from services.dashboards.periods import ViewState, zone
from services.db import Database
from services.frames import frame_of
from services.measurement.store import view
from services.models import (
    Episode, EpisodeDailyMetric, Podcast, PodcastAppDailyMetric, PodcastDailyMetric, PodcastGeoDailyMetric,
    PodcastHourlyMetric,
)
from services.tenancy import TenantContext

TOP_N = 10
MEDIAN_DAYS = (7, 30)


@dataclass(frozen=True)
class KpiValues:
    downloads: int
    avg_daily_listeners: float
    episodes_released: int
    median_7d: float | None  # median downloads in an episode's first 7 days, episodes released in the period
    median_30d: float | None


@dataclass(frozen=True)
class OverviewKpis:
    first: date
    last: date
    current: KpiValues
    previous: KpiValues | None  # None without a comparison

    def change(self, name: str) -> float | None:
        if self.previous is None:
            return None
        now, before = getattr(self.current, name), getattr(self.previous, name)
        if now is None or not before:
            return None
        return (now - before) / before


@cached
def overview_kpis(db: Database, ctx: TenantContext, state: ViewState, today: date | None = None) -> OverviewKpis:
    with dashboard_scope(db, ctx, state, today) as scope:
        p = scope.period
        current = _kpi_values(scope, p.first, p.last)
        previous = _kpi_values(scope, p.compare_first, p.compare_last) if p.has_comparison else None
    return OverviewKpis(p.first, p.last, current, previous)


def _kpi_values(scope: Scope, first: date, last: date) -> KpiValues:
    s, m = scope.session, view(PodcastDailyMetric).c
    downloads, listeners = s.execute(filtered(
        select(func.coalesce(func.sum(m.downloads), 0), func.coalesce(func.sum(m.listeners), 0)), scope, m,
        first, last)).one()
    released, medians = _median_downloads(scope, first, last)
    return KpiValues(int(downloads), int(listeners) / ((last - first).days + 1), released,
                     medians[MEDIAN_DAYS[0]], medians[MEDIAN_DAYS[1]])


def _released(stmt, scope: Scope, first: date, last: date):
    stmt = stmt.where(Episode.tenant_id == scope.ctx.tenant_id, release_day(scope).between(first, last))
    if scope.state.podcast is not None:
        stmt = stmt.where(Episode.podcast_id == scope.state.podcast)
    return stmt


def _median_downloads(scope: Scope, first: date, last: date) -> tuple[int, dict[int, float | None]]:
    """The number of episodes released first..last (one row each, the outer join keeps those without downloads),
    and per N in MEDIAN_DAYS: the median over those episodes whose first N days have ended
    (release day + N <= today) of their downloads on days release day .. release day + N - 1 (UTC days).
    Summed in SQL per episode over its first days only (common.first_days), whatever the history."""
    rows = first_days(scope, EpisodeDailyMetric, _released(select(Episode.id, release_day(scope)), scope, first, last),
                      max(MEDIAN_DAYS)).subquery()
    sums = [func.coalesce(func.sum(case((rows.c.day < days_after(scope, rows.c.released, n), rows.c.downloads),
                                        else_=0)), 0) for n in MEDIAN_DAYS]
    totals = scope.session.execute(select(rows.c.released, *sums).group_by(rows.c.episode_id, rows.c.released)).all()
    result: dict[int, float | None] = {}
    for index, days in enumerate(MEDIAN_DAYS):
        ended = [row[index + 1] for row in totals if as_date(row[0]) + timedelta(days=days) <= scope.today]
        result[days] = float(np.median(ended)) if ended else None
    return len(totals), result


@cached
def downloads_timeline(db: Database, ctx: TenantContext, state: ViewState, today: date | None = None) -> pd.DataFrame:
    """Downloads per bucket of the view's granularity: columns period, downloads, [previous_downloads] (the
    comparison period shifted onto this one), releases (titles of episodes released in the bucket, "; "-joined).
    Hours are in the tenant's time zone (naive local times); days, weeks (from Monday) and months are UTC days."""
    with dashboard_scope(db, ctx, state, today) as scope:
        p = scope.period
        series = _series(scope, p.first, p.last)
        frame = _bucket(series, state.granularity).rename("downloads").to_frame()
        if p.has_comparison:
            shift = p.first - p.compare_first
            previous = _series(scope, p.compare_first, p.compare_last)
            previous.index = previous.index + pd.Timedelta(days=shift.days)
            frame["previous_downloads"] = _bucket(previous, state.granularity).reindex(frame.index, fill_value=0)
        releases = _releases(scope, p.first, p.last)
    frame.index.name = "period"
    frame = frame.reset_index()
    frame["releases"] = _release_labels(frame["period"], releases, state.granularity, scope.tz)
    return frame.astype({c: "int64" for c in frame.columns if c.endswith("downloads")})


def _series(scope: Scope, first: date, last: date) -> pd.Series:
    """Downloads per day (UTC) or per local hour, every bucket present, indexed by a naive timestamp."""
    s = scope.session
    if scope.state.granularity == "hour":
        tz = zone(scope.tz)
        lo = datetime.combine(first, time.min, tzinfo=tz)
        hi = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)
        m = view(PodcastHourlyMetric).c
        stmt = filtered(select(m.hour, func.sum(m.downloads)), scope, m).where(m.hour >= lo, m.hour < hi)
        rows = s.execute(stmt.group_by(m.hour)).all()
        index = pd.date_range(pd.Timestamp(lo).tz_convert("UTC"), pd.Timestamp(hi).tz_convert("UTC"), freq="h",
                              inclusive="left")
        values = pd.Series({pd.Timestamp(h).tz_localize("UTC") if pd.Timestamp(h).tzinfo is None
                            else pd.Timestamp(h).tz_convert("UTC"): int(n) for h, n in rows}, dtype="int64")
        series = values.reindex(index, fill_value=0)
        series.index = series.index.tz_convert(tz).tz_localize(None)
        return series.groupby(level=0).sum()  # the repeated local hour when clocks go back
    m = view(PodcastDailyMetric).c
    rows = s.execute(filtered(select(m.day, func.sum(m.downloads)), scope, m, first, last).group_by(m.day)).all()
    values = pd.Series({pd.Timestamp(as_date(d)): int(n) for d, n in rows}, dtype="int64")
    return values.reindex(pd.date_range(first, last, freq="D"), fill_value=0)


def _bucket(series: pd.Series, granularity: str) -> pd.Series:
    if granularity in ("hour", "day"):
        return series
    keys = series.index.to_period("W-SUN" if granularity == "week" else "M").start_time
    return series.groupby(keys).sum()


def _releases(scope: Scope, first: date, last: date) -> pd.DataFrame:
    rows = scope.session.execute(_released(
        select(Episode.id, Episode.title, Episode.published_at).order_by(Episode.published_at), scope, first,
        last)).all()
    return frame_of(rows, ["episode_id", "title", "published_at"])


def _release_labels(periods: pd.Series, releases: pd.DataFrame, granularity: str, tz: str) -> list[str]:
    labels = {p: [] for p in periods}
    for row in releases.itertuples():
        moment = pd.Timestamp(row.published_at)
        moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
        if granularity == "hour":
            key = moment.tz_convert(zone(tz)).tz_localize(None).floor("h")
        else:
            key = pd.Timestamp(moment.date())
            if granularity != "day":
                key = key.to_period("W-SUN" if granularity == "week" else "M").start_time
        if key in labels:
            labels[key].append(row.title)
    return ["; ".join(labels[p]) for p in periods]


@cached
def top_episodes(db: Database, ctx: TenantContext, state: ViewState, today: date | None = None,
                 limit: int = TOP_N) -> pd.DataFrame:
    """Columns episode_id, episode, podcast, downloads, listeners (summed daily); most downloaded first."""
    with dashboard_scope(db, ctx, state, today) as scope:
        m, p = view(EpisodeDailyMetric).c, scope.period
        totals = filtered(select(m.episode_id, func.sum(m.downloads).label("downloads"),
                                 func.sum(m.listeners).label("listeners")), scope, m, p.first, p.last) \
            .group_by(m.episode_id).order_by(func.sum(m.downloads).desc(), m.episode_id).limit(limit).subquery()
        rows = scope.session.execute(
            select(totals.c.episode_id, Episode.title, Podcast.title, totals.c.downloads, totals.c.listeners)
            .join(Episode, Episode.id == totals.c.episode_id).join(Podcast, Podcast.id == Episode.podcast_id)
            .order_by(totals.c.downloads.desc(), totals.c.episode_id)).all()
    frame = frame_of(rows, ["episode_id", "episode", "podcast", "downloads", "listeners"])
    return frame.astype({"episode_id": "int64", "downloads": "int64", "listeners": "int64"})


@cached
def top_apps(db: Database, ctx: TenantContext, state: ViewState, today: date | None = None,
             limit: int = TOP_N) -> pd.DataFrame:
    return _top(db, ctx, state, today, PodcastAppDailyMetric, "app", limit)


@cached
def top_countries(db: Database, ctx: TenantContext, state: ViewState, today: date | None = None,
                  limit: int = TOP_N) -> pd.DataFrame:
    return _top(db, ctx, state, today, PodcastGeoDailyMetric, "country", limit)


def _top(db, ctx, state, today, model, key: str, limit: int) -> pd.DataFrame:
    """Columns <key>, downloads, listeners (summed daily); most downloaded first."""
    with dashboard_scope(db, ctx, state, today) as scope:
        m, p = view(model).c, scope.period
        col = getattr(m, key)
        rows = scope.session.execute(
            filtered(select(col, func.sum(m.downloads), func.sum(m.listeners)), scope, m, p.first, p.last)
            .group_by(col).order_by(func.sum(m.downloads).desc(), col).limit(limit)).all()
    frame = frame_of(rows, [key, "downloads", "listeners"])
    return frame.astype({"downloads": "int64", "listeners": "int64"})
