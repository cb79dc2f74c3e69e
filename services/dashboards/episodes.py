"""Episodes: the grid (downloads at 1/3/7/30 days and all time, listeners, top app), one episode's launch curve
against its show's median, average and best episode, and its apps, devices and countries."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import case, func, select

from services.dashboards.cache import cached
from services.dashboards.common import (
    Scope, as_date, dashboard_scope, days_after, first_days, owned_episode, release_day,
)
from services.dashboards.periods import MAX_COMPARE_EPISODES, ViewState
from services.db import Database
from services.errors import ValidationError
from services.frames import frame_of
from services.measurement.store import view
from services.models import (
    Episode, EpisodeAppDailyMetric, EpisodeDailyMetric, EpisodeDeviceDailyMetric, EpisodeGeoDailyMetric, Podcast,
)
from services.tenancy import TenantContext

MILESTONES = (1, 3, 7, 30)
TOP_APP_DAYS = 7
LAUNCH_DAYS = 60  # launch curves cover an episode's first 60 days (as Apple Podcasts Connect compares)
GRID_COLUMNS = ["episode_id", "episode", "podcast", "released", "downloads_1d", "downloads_3d", "downloads_7d",
                "downloads_30d", "downloads_all_time", "listeners_all_time", "downloads_in_range", "top_app"]
EPISODE_DIMENSIONS = {"app": EpisodeAppDailyMetric, "device": EpisodeDeviceDailyMetric,
                      "country": EpisodeGeoDailyMetric}


@cached
def episode_grid(db: Database, ctx: TenantContext, state: ViewState, today: date | None = None) -> pd.DataFrame:
    """One row per episode released in the view's period (every episode for "all time"), of the tenant or of the
    filtered podcast, newest first (GRID_COLUMNS).

    downloads_Nd: downloads on UTC days release day .. release day + N - 1, empty until those N days have ended;
    downloads_all_time, listeners_all_time (daily distinct listeners summed over days): since release;
    downloads_in_range: on the period's days; top_app: the most downloaded app in the episode's first 7 days (ties
    by name). Each episode is read from its release on (common.first_days): the cost follows the episodes listed."""
    with dashboard_scope(db, ctx, state, today) as scope:
        p = scope.period
        episodes = _episodes(scope)
        if episodes.empty:
            return pd.DataFrame(columns=GRID_COLUMNS)
        earliest = min((d for d in episodes["released"] if d is not None), default=scope.today)
        rows = first_days(scope, EpisodeDailyMetric, _listed(scope), (scope.today - earliest).days + 2).subquery()
        day, rel = rows.c.day, rows.c.released
        sums = [func.coalesce(func.sum(case((day < days_after(scope, rel, n), rows.c.downloads), else_=0)), 0)
                for n in MILESTONES]
        stmt = select(rows.c.episode_id, *sums, func.coalesce(func.sum(rows.c.downloads), 0),
                      func.coalesce(func.sum(rows.c.listeners), 0),
                      func.coalesce(func.sum(case((day.between(p.first, p.last), rows.c.downloads), else_=0)), 0))
        totals = frame_of(scope.session.execute(stmt.group_by(rows.c.episode_id)).all(),
                          ["episode_id", *(f"downloads_{n}d" for n in MILESTONES), "downloads_all_time",
                           "listeners_all_time", "downloads_in_range"])
        apps = _top_app(scope)
    frame = episodes.merge(totals, on="episode_id", how="left").merge(apps, on="episode_id", how="left")
    counts = [c for c in GRID_COLUMNS if c.startswith(("downloads", "listeners"))]
    frame[counts] = frame[counts].fillna(0).astype("int64")
    released = pd.to_datetime(frame["released"])
    for n in MILESTONES:  # not yet N days old: no figure, rather than a partial one
        open_ = released.isna() | (released + pd.Timedelta(days=n) > pd.Timestamp(scope.today))
        frame[f"downloads_{n}d"] = frame[f"downloads_{n}d"].astype("Int64").mask(open_)
    frame["top_app"] = frame["top_app"].fillna("")
    return frame[GRID_COLUMNS]


def _listed(scope: Scope):
    """(episode id, release day) of the episodes the grid lists: released in the period, unless "all time"."""
    stmt = select(Episode.id, release_day(scope)).where(Episode.tenant_id == scope.ctx.tenant_id,
                                                        Episode.published_at.is_not(None))
    if scope.state.range != "all":
        stmt = stmt.where(release_day(scope).between(scope.period.first, scope.period.last))
    if scope.state.podcast is not None:
        stmt = stmt.where(Episode.podcast_id == scope.state.podcast)
    return stmt


def _episodes(scope: Scope) -> pd.DataFrame:
    stmt = (select(Episode.id, Episode.title, Podcast.title, release_day(scope))
            .join(Podcast, Podcast.id == Episode.podcast_id).where(Episode.tenant_id == scope.ctx.tenant_id))
    if scope.state.range != "all":
        stmt = stmt.where(release_day(scope).between(scope.period.first, scope.period.last))
    if scope.state.podcast is not None:
        stmt = stmt.where(Episode.podcast_id == scope.state.podcast)
    rows = scope.session.execute(stmt.order_by(Episode.published_at.desc(), Episode.id.desc())).all()
    frame = frame_of(rows, ["episode_id", "episode", "podcast", "released"])
    frame["released"] = [as_date(d) for d in frame["released"]]
    return frame.astype({"episode_id": "int64"})


def _top_app(scope: Scope) -> pd.DataFrame:
    """Each listed episode's most downloaded app in its first 7 days (ties by name): its launch audience, read per
    episode (common.first_days), so the cost is a week per episode, not the history."""
    rows = first_days(scope, EpisodeAppDailyMetric, _listed(scope), TOP_APP_DAYS, ("app",)).subquery()
    stmt = (select(rows.c.episode_id, rows.c.app, func.sum(rows.c.downloads)).where(rows.c.app.is_not(None))
            .group_by(rows.c.episode_id, rows.c.app))
    frame = frame_of(scope.session.execute(stmt).all(), ["episode_id", "top_app", "n"])
    if frame.empty:
        return frame[["episode_id", "top_app"]]
    frame = frame.sort_values(["episode_id", "n", "top_app"], ascending=[True, False, True])
    return frame.drop_duplicates("episode_id")[["episode_id", "top_app"]]


@dataclass(frozen=True)
class EpisodeInfo:
    id: int
    title: str
    podcast_id: int
    podcast: str
    released: date | None


@cached
def episode_info(db: Database, ctx: TenantContext, episode_id: int) -> EpisodeInfo:
    with dashboard_scope(db, ctx, ViewState()) as scope:
        episode = owned_episode(scope.session, ctx, episode_id)
        podcast = scope.session.get(Podcast, episode.podcast_id)
        released = as_date(episode.published_at.date()) if episode.published_at else None
        return EpisodeInfo(episode.id, episode.title, episode.podcast_id, podcast.title, released)


@cached
def episode_choices(db: Database, ctx: TenantContext, podcast_id: int | None = None) -> list[dict]:
    """{"label", "value"} for the tenant's episodes, newest first (the compare picker)."""
    with dashboard_scope(db, ctx, ViewState(range="all", podcast=podcast_id)) as scope:
        frame = _episodes(scope)
    return [{"label": f"{r.episode} ({r.podcast})", "value": int(r.episode_id)} for r in frame.itertuples()]


@cached
def launch_curves(db: Database, ctx: TenantContext, episode_id: int, compare: tuple[int, ...] = (),
                  today: date | None = None, days: int = LAUNCH_DAYS) -> pd.DataFrame:
    """Cumulative downloads by day since release (day 1 = release day, UTC days), long format: series, kind
    (episode | median | average | best), episode_id, day, downloads. Episodes: this one and up to 8 compared
    ones, each up to its age; benchmarks over the show's episodes old enough for that day."""
    if len(compare) > MAX_COMPARE_EPISODES:
        raise ValidationError(f"compare at most {MAX_COMPARE_EPISODES} episodes", {"episodes": "too many"})
    with dashboard_scope(db, ctx, ViewState(), today) as scope:
        s = scope.session
        episode = owned_episode(s, ctx, episode_id)
        chosen = [episode_id] + [e for e in compare if e != episode_id]
        for other in chosen[1:]:
            owned_episode(s, ctx, other)
        episodes = (select(Episode.id, release_day(scope))
                    .where(Episode.tenant_id == ctx.tenant_id, Episode.published_at.is_not(None),
                           (Episode.podcast_id == episode.podcast_id) | Episode.id.in_(chosen)))
        window = first_days(scope, EpisodeDailyMetric, episodes, days).subquery()
        rows = s.execute(select(window.c.episode_id, Episode.title, Episode.podcast_id, window.c.released,
                                window.c.day, window.c.downloads)
                         .join(Episode, Episode.id == window.c.episode_id)).all()
        today = scope.today
    raw = frame_of(rows, ["episode_id", "title", "podcast_id", "released", "day", "downloads"])
    titles = raw.drop_duplicates("episode_id").set_index("episode_id")
    released = pd.to_datetime(titles["released"])
    age = ((pd.Timestamp(today) - released).dt.days + 1).clip(upper=days)  # days begun since release, capped
    raw = raw.dropna(subset=["day"])
    n = ((pd.to_datetime(raw["day"]) - pd.to_datetime(raw["released"])).dt.days + 1).to_numpy(np.int64)
    inside = (n >= 1) & (n <= days)
    daily = np.zeros((len(titles), days))  # episode x day since release, summed by numpy rather than a pivot_table
    np.add.at(daily, (titles.index.get_indexer(raw["episode_id"])[inside], n[inside] - 1),
              raw["downloads"].to_numpy(np.float64)[inside])
    cumulative = pd.DataFrame(daily.cumsum(axis=1), index=titles.index, columns=range(1, days + 1))
    cumulative = cumulative.where(np.arange(1, days + 1)[None, :] <= age.to_numpy()[:, None])  # not yet reached

    parts = []
    for eid in chosen:
        if eid in cumulative.index:
            parts.append(_long(cumulative.loc[eid], str(titles.loc[eid, "title"]), "episode", eid))
    show = cumulative[titles["podcast_id"] == episode.podcast_id]
    if not show.empty:
        parts.append(_long(show.median(axis=0, skipna=True), "Show median", "median", None))
        parts.append(_long(show.mean(axis=0, skipna=True), "Show average", "average", None))
        best = show.ffill(axis=1).iloc[:, -1].idxmax()  # most downloads by the last day it has reached
        parts.append(_long(show.loc[best], f"Best: {titles.loc[best, 'title']}", "best", best))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["series", "kind", "episode_id", "day", "downloads"])
    frame = frame.dropna(subset=["downloads"])
    frame["downloads"] = frame["downloads"].round(1)
    return frame.reset_index(drop=True)


def _long(values: pd.Series, series: str, kind: str, episode_id) -> pd.DataFrame:
    return pd.DataFrame({"series": series, "kind": kind, "episode_id": episode_id, "day": values.index.astype(int),
                         "downloads": values.to_numpy()})


@cached
def episode_breakdown(db: Database, ctx: TenantContext, episode_id: int, dimension: str, state: ViewState,
                      today: date | None = None) -> pd.DataFrame:
    """One episode's downloads by app, device or country over the view's period: columns <dimension>, downloads,
    listeners (daily distinct listeners of the episode, summed); most downloaded first."""
    model = EPISODE_DIMENSIONS.get(dimension)
    if model is None:
        raise ValidationError(f"dimension must be one of {', '.join(EPISODE_DIMENSIONS)}", {"dimension": "unknown"})
    with dashboard_scope(db, ctx, state.with_(podcast=None), today) as scope:
        owned_episode(scope.session, ctx, episode_id)
        m, p = view(model).c, scope.period
        key = getattr(m, dimension)
        rows = scope.session.execute(
            select(key, func.sum(m.downloads), func.sum(m.listeners))
            .where(m.tenant_id == ctx.tenant_id, m.episode_id == episode_id, m.day.between(p.first, p.last))
            .group_by(key).order_by(func.sum(m.downloads).desc(), key)).all()
    return frame_of(rows, [dimension, "downloads", "listeners"]).astype(
        {"downloads": "int64", "listeners": "int64"})
