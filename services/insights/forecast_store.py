"""Forecasts on a tenant's data: read the daily rollups (never raw downloads), compute (services.insights.forecasts),
store one row per show and recent episode (the job after counting), and answer pages, the API and pacing from the
stored rows, computing from the rollups when none is stored for the day asked."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.dashboards import episodes
from services.db import Database
from services.errors import NotFound, ValidationError
from services.frames import frame_of
from services.insights import forecasts as fc
from services.measurement.store import view
from services.models import Episode, EpisodeDailyMetric, Forecast, Podcast, PodcastDailyMetric
from services.models.base import utcnow
from services.tenancy import TenantContext, require_staff

logger = logging.getLogger(__name__)

DEFAULT_DAYS = 56  # a show's forecast shows the next 8 weeks
COLUMNS = ["day", "downloads", "lower", "upper"]


def last_complete_day(today: date | None = None) -> date:
    """Forecasts learn from complete UTC days: the one before today."""
    return (today or datetime.now(timezone.utc).date()) - timedelta(days=1)


# --- reading the rollups ------------------------------------------------------------------------------------------

def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).date() if value.tzinfo else value.date()
    return value if isinstance(value, date) else pd.Timestamp(value).date()


def show_daily(s: Session, tenant_id: int, podcast_id: int, first: date, last: date) -> pd.Series:
    m = view(PodcastDailyMetric).c
    rows = s.execute(select(m.day, m.downloads).where(m.tenant_id == tenant_id, m.podcast_id == podcast_id,
                                                      m.day.between(first, last))).all()
    return pd.Series({_as_date(d): float(n) for d, n in rows}, dtype=float).sort_index()


def release_days(s: Session, tenant_id: int, podcast_id: int, until: date) -> dict[int, date]:
    """Episode id -> UTC release day, of the show's episodes released by `until`."""
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=timezone.utc)
    rows = s.execute(select(Episode.id, Episode.published_at).where(
        Episode.tenant_id == tenant_id, Episode.podcast_id == podcast_id, Episode.published_at.is_not(None),
        Episode.published_at < end)).all()
    return {int(i): _as_date(p) for i, p in rows}


def episode_rows(s: Session, tenant_id: int, released: dict[int, date], last: date) -> pd.DataFrame:
    """Daily downloads (episode_id, day, downloads) of these episodes in their first MAX_EPISODE_DAY days to last."""
    if not released:
        return pd.DataFrame(columns=["episode_id", "day", "downloads"])
    m = view(EpisodeDailyMetric).c
    rows = s.execute(select(m.episode_id, m.day, func.sum(m.downloads)).where(
        m.tenant_id == tenant_id, m.episode_id.in_(list(released)), m.day.between(min(released.values()), last))
        .group_by(m.episode_id, m.day)).all()
    frame = frame_of(rows, ["episode_id", "day", "downloads"])
    frame["day"] = [_as_date(d) for d in frame["day"]]
    return frame


# --- computing ----------------------------------------------------------------------------------------------------

def compute_show(s: Session, tenant_id: int, podcast_id: int, as_of: date) -> list[fc.ForecastPoint]:
    released = release_days(s, tenant_id, podcast_id, as_of + timedelta(days=fc.SHOW_HORIZON))
    past = [d for d in released.values() if d <= as_of]
    # Episodes already scheduled (published ahead) are known releases; the rest follow the show's calendar.
    scheduled = [d for d in released.values() if d > as_of]
    until = as_of + timedelta(days=fc.SHOW_HORIZON)
    upcoming = sorted(set(scheduled) | set(fc.expected_releases(past, as_of, until)))
    daily = show_daily(s, tenant_id, podcast_id, as_of - timedelta(days=fc.FIT_DAYS - 1), as_of)
    return fc.show_forecast(daily, past, upcoming, as_of)


def _launch_inputs(s: Session, tenant_id: int, podcast_id: int, as_of: date,
                   targets: list[int]) -> tuple[pd.DataFrame, dict[int, date]]:
    """The launch matrix of the targets and the show's RECENT_EPISODES launches before the earliest of them."""
    released = release_days(s, tenant_id, podcast_id, as_of)
    order = sorted(released, key=lambda e: (released[e], e))
    rows = [order.index(t) for t in targets if t in released]
    if not rows:
        return fc.launch_matrix(pd.DataFrame(), {}, as_of), {}
    chosen = {e: released[e] for e in order[max(min(rows) - fc.RECENT_EPISODES, 0):max(rows) + 1]}
    return fc.launch_matrix(episode_rows(s, tenant_id, chosen, as_of), chosen, as_of), chosen


def compute_episodes(s: Session, tenant_id: int, podcast_id: int, episode_ids: list[int],
                     as_of: date) -> dict[int, list[fc.ForecastPoint]]:
    """Each episode's launch curve forecast from the show's launches released before it."""
    matrix, released = _launch_inputs(s, tenant_id, podcast_id, as_of, episode_ids)
    values = matrix.to_numpy()
    out = {}
    for row, episode_id in enumerate(matrix.index):
        if episode_id in episode_ids:
            observed = values[row][~pd.isna(values[row])]
            out[int(episode_id)] = fc.launch_curve_forecast(values[:row], observed, released=released[episode_id])
    return out


# --- storing (the job) ----------------------------------------------------------------------------------------------

def refresh_tenant_forecasts(db: Database, tenant_id: int, as_of: date | None = None,
                             progress: Callable[[float, str], None] | None = None) -> dict:
    """Replace the tenant's stored forecasts in one transaction: every show's, and the launch curve of each episode
    released in the last MAX_EPISODE_DAY days. Idempotent: a rerun replaces the same rows."""
    as_of = as_of or last_complete_day()
    report = progress or (lambda _f, _m: None)
    rows = []
    with db.session(tenant_id, worker=True) as s:
        shows = list(s.scalars(select(Podcast.id).where(Podcast.tenant_id == tenant_id).order_by(Podcast.id)))
        for n, podcast_id in enumerate(shows, start=1):
            rows.append(_row(tenant_id, "podcast", podcast_id, as_of, compute_show(s, tenant_id, podcast_id, as_of)))
            recent = [e for e, d in release_days(s, tenant_id, podcast_id, as_of).items()
                      if (as_of - d).days < fc.MAX_EPISODE_DAY]
            for episode_id, points in compute_episodes(s, tenant_id, podcast_id, recent, as_of).items():
                rows.append(_row(tenant_id, "episode", episode_id, as_of, points))
            report(n / len(shows), f"forecast {n} of {len(shows)} shows")
        s.execute(delete(Forecast).where(Forecast.tenant_id == tenant_id))
        if rows:
            s.execute(Forecast.__table__.insert(), rows)
        s.commit()
    counts = {"podcasts": sum(r["kind"] == "podcast" for r in rows), "episodes": sum(r["kind"] == "episode" for r in rows)}
    logger.info("forecasts stored", extra={"tenant_id": tenant_id, "as_of": as_of.isoformat(), **counts})
    return {"as_of": as_of.isoformat(), **counts}


def _row(tenant_id: int, kind: str, subject_id: int, as_of: date, points: list[fc.ForecastPoint]) -> dict:
    return {"tenant_id": tenant_id, "kind": kind, "subject_id": subject_id, "as_of": as_of,
            "computed_at": utcnow(), "points": [p.as_dict() for p in points]}


def _stored(s: Session, tenant_id: int, kind: str, subject_id: int, as_of: date) -> list[fc.ForecastPoint] | None:
    points = s.scalar(select(Forecast.points).where(Forecast.tenant_id == tenant_id, Forecast.kind == kind,
                                                    Forecast.subject_id == subject_id, Forecast.as_of == as_of))
    return None if points is None else [fc.ForecastPoint.from_dict(p) for p in points]


def show_points(s: Session, tenant_id: int, podcast_id: int, as_of: date) -> list[fc.ForecastPoint]:
    """The stored forecast of this as_of, else computed from the rollups (a few months of one show's days)."""
    return _stored(s, tenant_id, "podcast", podcast_id, as_of) or compute_show(s, tenant_id, podcast_id, as_of)


def episode_points(s: Session, tenant_id: int, episode: Episode, as_of: date) -> list[fc.ForecastPoint]:
    stored = _stored(s, tenant_id, "episode", episode.id, as_of)
    if stored is not None:
        return stored
    return compute_episodes(s, tenant_id, episode.podcast_id, [episode.id], as_of).get(episode.id, [])


# --- answering pages and the API -------------------------------------------------------------------------------------

def parse_days(value: str | None, maximum: int = fc.SHOW_HORIZON) -> int:
    """`days` as a query parameter: a whole number from 1 to `maximum`; DEFAULT_DAYS when absent."""
    if value in (None, ""):
        return DEFAULT_DAYS
    try:
        days = int(value)
    except ValueError:
        days = 0
    if not 1 <= days <= maximum:
        raise ValidationError(f"days: {value!r} is not a whole number from 1 to {maximum}",
                              {"days": f"a whole number from 1 to {maximum}"})
    return days


def podcast_forecast(db: Database, ctx: TenantContext, podcast_id: int, days: int = DEFAULT_DAYS,
                     today: date | None = None) -> pd.DataFrame:
    """The show's daily downloads for the `days` days from today: day, downloads, lower, upper (80%)."""
    require_staff(ctx)
    as_of = last_complete_day(today)
    with db.session(ctx.tenant_id) as s:
        if s.scalar(select(Podcast.id).where(Podcast.id == podcast_id, Podcast.tenant_id == ctx.tenant_id)) is None:
            raise NotFound(f"no podcast {podcast_id}")
        points = show_points(s, ctx.tenant_id, podcast_id, as_of)
    return _frame(points[:days])


def episode_forecast(db: Database, ctx: TenantContext, episode_id: int, today: date | None = None) -> pd.DataFrame:
    """The episode's cumulative downloads at days 1..90 since release (day = the day number): observed days as they
    are (lower == upper), later days forecast with their 80% interval."""
    require_staff(ctx)
    as_of = last_complete_day(today)
    with db.session(ctx.tenant_id) as s:
        episode = s.scalar(select(Episode).where(Episode.id == episode_id, Episode.tenant_id == ctx.tenant_id))
        if episode is None:
            raise NotFound(f"no episode {episode_id}")
        points = episode_points(s, ctx.tenant_id, episode, as_of) if episode.published_at else []
    frame = _frame(points).assign(observed=[p.observed for p in points])
    frame["day"] = [p.step for p in points]
    return frame


def _frame(points: list[fc.ForecastPoint]) -> pd.DataFrame:
    return pd.DataFrame([(p.day, round(p.downloads, 1), round(p.lower, 1), round(p.upper, 1)) for p in points],
                        columns=COLUMNS)


# --- campaign delivery (pacing) ------------------------------------------------------------------------------------

def placement_expectations(s: Session, tenant_id: int, placements, as_of: date) -> list[fc.Expected]:
    """What each placement (podcast_id, episode_id, start_date, end_date) should still deliver after as_of: its
    show's forecast over its remaining flight days, or its episode's launch forecast over them."""
    model_day = as_of - timedelta(days=1)  # as_of itself is still being counted
    shows: dict[int, list[fc.ForecastPoint]] = {}
    out = []
    for p in placements:
        first = max(p.start_date, as_of + timedelta(days=1))
        if p.end_date < first:
            continue
        if p.episode_id is None:
            if p.podcast_id not in shows:
                shows[p.podcast_id] = show_points(s, tenant_id, p.podcast_id, model_day)
            expected = fc.show_window(shows[p.podcast_id], first, p.end_date, subject=f"podcast:{p.podcast_id}")
        else:
            out += _episode_expectations(s, tenant_id, p.episode_id, first, p.end_date, model_day)
            continue
        if expected is not None:
            out.append(expected)
    return out


def _episode_expectations(s: Session, tenant_id: int, episode_id: int, first: date, last: date,
                          model_day: date) -> list[fc.Expected]:
    """Inside its first MAX_EPISODE_DAY days, from its launch forecast; past them, at its last week's mean rate."""
    episode = s.get(Episode, episode_id)
    if episode is None or episode.published_at is None or episode.tenant_id != tenant_id:
        return []
    released = _as_date(episode.published_at)
    subject = f"episode:{episode_id}"
    points = episode_points(s, tenant_id, episode, model_day)
    out = [fc.episode_window(points, (first - released).days + 1, (last - released).days + 1, subject=subject)]
    tail_first = max(first, released + timedelta(days=fc.MAX_EPISODE_DAY))
    if last >= tail_first:
        week = model_day - timedelta(days=6)
        m = view(EpisodeDailyMetric).c
        recent = s.scalar(select(func.coalesce(func.sum(m.downloads), 0)).where(
            m.tenant_id == tenant_id, m.episode_id == episode_id, m.day.between(week, model_day))) or 0
        out.append(fc.Expected(subject, float(recent) / 7 * ((last - tail_first).days + 1), fc.DEFAULT_LOG_SD))
    return [e for e in out if e is not None]


# --- the charts' frames (episode page, podcast page) -----------------------------------------------------------------

FORECAST_SERIES = "Forecast"


def launch_curves_with_forecast(db: Database, ctx: TenantContext, episode_id: int, compare: tuple[int, ...] = (),
                                today: date | None = None) -> pd.DataFrame:
    """The episode page's launch curves (services.dashboards.episodes.launch_curves) and, after the episode's last
    complete day, its forecast: rows of kind "forecast" with lower and upper (80%), up to the chart's last day."""
    frame = episodes.launch_curves(db, ctx, episode_id, compare, today)
    forecast = episode_forecast(db, ctx, episode_id, today)
    ahead = forecast[~forecast["observed"].astype(bool) & (forecast["day"] <= episodes.LAUNCH_DAYS)]
    if ahead.empty:
        return frame
    rows = ahead.drop(columns="observed").assign(series=FORECAST_SERIES, kind="forecast", episode_id=episode_id)
    return pd.concat([frame.assign(lower=None, upper=None), rows[list(frame.columns) + ["lower", "upper"]]],
                     ignore_index=True)


def podcast_outlook(db: Database, ctx: TenantContext, podcast_id: int, days: int = DEFAULT_DAYS,
                    today: date | None = None) -> pd.DataFrame:
    """The podcast page's forecast chart: the show's daily downloads over the last `days` complete days (kind
    "actual") and its forecast for the `days` days after (kind "forecast"): day, kind, downloads, lower, upper."""
    forecast = podcast_forecast(db, ctx, podcast_id, days, today)
    as_of = last_complete_day(today)
    first = as_of - timedelta(days=days - 1)
    with db.session(ctx.tenant_id) as s:
        daily = show_daily(s, ctx.tenant_id, podcast_id, first, as_of)
    days_seen = pd.date_range(first, as_of).date
    actual = pd.DataFrame({"day": days_seen, "kind": "actual",
                           "downloads": daily.reindex(days_seen, fill_value=0).to_numpy(float), "lower": None,
                           "upper": None})
    return pd.concat([actual, forecast.assign(kind="forecast")[actual.columns]], ignore_index=True)
