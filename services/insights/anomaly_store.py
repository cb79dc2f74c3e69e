"""Anomalies' I/O: read the daily rollups and counting days a detection needs, store what it finds (idempotent per
series and day), and list stored anomalies for pages and the API. Reads rollups through the tenant views only."""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.dashboards.common import as_date, check_podcast
from services.db import Database
from services.errors import NotFound
from services.events import outbox
from services.frames import frame_of
from services.insights import anomalies as rules
from services.insights.anomalies import Finding
from services.measurement.store import day_bounds, view
from services.models import (
    NETWORK, Anomaly, CountingDay, Episode, Podcast, PodcastAppDailyMetric, PodcastDailyMetric, PodcastGeoDailyMetric,
)
from services.tenancy import TenantContext

logger = logging.getLogger(__name__)

MAX_DETECT_DAYS = 120  # a first detection (or a recount of years) judges at most this many recent days
COLUMNS = ["day", "podcast_id", "dimension", "value", "expected", "kind", "cause"]


def detect_anomalies(s: Session, tenant_id: int, first: date, last: date) -> list[Finding]:
    """Every anomaly of the tenant's series on days first..last, causes named."""
    since = first - timedelta(days=rules.HISTORY_DAYS)
    since_launches = first - timedelta(days=rules.LAUNCH_HISTORY_DAYS)
    days = pd.date_range(since, last, freq="D")
    shows = _daily(s, PodcastDailyMetric, tenant_id, since_launches, last, None,
                   pd.date_range(since_launches, last, freq="D"))
    apps = _daily(s, PodcastAppDailyMetric, tenant_id, since, last, "app", days)
    countries = _daily(s, PodcastGeoDailyMetric, tenant_id, since, last, "country", days)
    releases = _release_days(s, tenant_id, since_launches, last)
    found: list[Finding] = []
    for podcast_id in shows.columns:
        found += rules.show_findings(int(podcast_id), shows[podcast_id], releases.get(int(podcast_id), []), first)
        total = shows[podcast_id].reindex(days)
        for frame, prefix in ((apps, "app"), (countries, "country")):
            if podcast_id in frame.columns.get_level_values(0):
                found += rules.breakdown_findings(int(podcast_id), frame[podcast_id], total, prefix, first)
    requests, bots = _counting_days(s, tenant_id, since, last)
    found += rules.network_findings(requests, bots, first)
    return rules.explain([f for f in found if f.day <= last])


def store_anomalies(s: Session, tenant_id: int, first: date, last: date, findings: list[Finding]) -> list[Finding]:
    """Make the tenant's stored anomalies on days first..last exactly `findings`: new ones inserted, changed ones
    updated, those no longer found (a recount corrected the data) removed; each new one records `anomaly.detected`
    in the same transaction. Returns only the newly inserted ones, so detecting the same days again returns nothing
    (and records no second event). The caller commits."""
    stored = {(a.podcast_id, a.dimension, as_date(a.day)): a for a in s.scalars(
        select(Anomaly).where(Anomaly.tenant_id == tenant_id, Anomaly.day.between(first, last)))}
    new = []
    for f in findings:
        row = stored.pop(f.key, None)
        if row is None:
            s.add(Anomaly(tenant_id=tenant_id, podcast_id=f.podcast_id, day=f.day, dimension=f.dimension,
                          value=f.value, expected=f.expected, kind=f.kind, cause=f.cause))
            outbox.record(s, tenant_id, "anomaly.detected", {**f.as_dict(), "day": f.day.isoformat()})
            new.append(f)
        else:
            row.value, row.expected, row.kind, row.cause = f.value, f.expected, f.kind, f.cause
    if stored:
        s.execute(delete(Anomaly).where(Anomaly.id.in_([a.id for a in stored.values()])))
    s.flush()
    return new


def detect_and_store(db: Database, tenant_id: int, first: date | None = None, last: date | None = None,
                     today: date | None = None) -> list[Finding]:
    """The job's use case: detect days first..last and store them; returns the new anomalies (for
    `anomaly.detected` events). `last` defaults to the newest complete day with downloads (never today, still being
    counted); the days judged are at least the week ending `last` and at most MAX_DETECT_DAYS."""
    yesterday = (today or datetime.now(timezone.utc).date()) - timedelta(days=1)
    with db.session(tenant_id, worker=True) as s:
        newest = _newest_day(s, tenant_id)
        if newest is None:
            return []
        last = min(last or newest, newest, yesterday)
        week = last - timedelta(days=6)
        first = max(min(first or week, week), last - timedelta(days=MAX_DETECT_DAYS - 1))
        if first > last:
            return []
        new = store_anomalies(s, tenant_id, first, last, detect_anomalies(s, tenant_id, first, last))
        s.commit()
    logger.info("anomalies detected", extra={"tenant_id": tenant_id, "first": first.isoformat(),
                                             "last": last.isoformat(), "new": len(new)})
    return new


def latest_anomaly(s: Session, tenant_id: int, podcast_id: int, dimension: str, first: date,
                   last: date) -> Anomaly | None:
    """The newest stored anomaly of one series on days first..last (for the alert rules' anomaly condition)."""
    return s.scalar(select(Anomaly).where(Anomaly.tenant_id == tenant_id, Anomaly.podcast_id == podcast_id,
                                          Anomaly.dimension == dimension, Anomaly.day.between(first, last))
                    .order_by(Anomaly.day.desc()).limit(1))


def list_anomalies(db: Database, ctx: TenantContext, first: date, last: date,
                   podcast_id: int | None = None) -> pd.DataFrame:
    """Stored anomalies on days first..last (columns COLUMNS plus podcast, the show's title), newest first; staff
    only (a sponsor user is told there is nothing here), another tenant's podcast is NotFound."""
    if ctx.is_sponsor:
        raise NotFound("anomalies are not shared with sponsors")
    with db.session(ctx.tenant_id) as s:
        check_podcast(s, ctx, podcast_id)
        stmt = (select(Anomaly.day, Anomaly.podcast_id, Anomaly.dimension, Anomaly.value, Anomaly.expected,
                       Anomaly.kind, Anomaly.cause, Podcast.title)
                .outerjoin(Podcast, Podcast.id == Anomaly.podcast_id)
                .where(Anomaly.tenant_id == ctx.tenant_id, Anomaly.day.between(first, last)))
        if podcast_id is not None:
            stmt = stmt.where(Anomaly.podcast_id.in_((podcast_id, NETWORK)))
        rows = s.execute(stmt.order_by(Anomaly.day.desc(), Anomaly.podcast_id, Anomaly.dimension)).all()
    frame = frame_of(rows, [*COLUMNS, "podcast"])
    frame["day"] = [as_date(d) for d in frame["day"]]
    frame["podcast"] = frame["podcast"].fillna("Whole network")
    frame["cause"] = frame["cause"].astype(object).where(frame["cause"].notna(), None)  # no cause: None, never NaN
    return frame


def _daily(s: Session, model, tenant_id: int, first: date, last: date, key: str | None,
           days: pd.DatetimeIndex) -> pd.DataFrame:
    """Downloads per day: one column per podcast (key None) or per (podcast, key value), zeros filled."""
    m = view(model).c
    keys = [m.podcast_id] + ([getattr(m, key)] if key else [])
    rows = s.execute(select(m.day, *keys, func.sum(m.downloads)).where(
        m.tenant_id == tenant_id, m.day.between(first, last)).group_by(m.day, *keys)).all()
    names = ["day", "podcast_id"] + ([key] if key else [])
    frame = frame_of(rows, [*names, "downloads"])
    if frame.empty:
        return pd.DataFrame(index=days, dtype=float)
    frame["day"] = pd.to_datetime([as_date(d) for d in frame["day"]])
    wide = frame.pivot_table(index="day", columns=names[1:], values="downloads", aggfunc="sum", fill_value=0)
    return wide.reindex(days, fill_value=0).astype(float)


def _counting_days(s: Session, tenant_id: int, first: date, last: date) -> tuple[pd.Series, pd.Series]:
    rows = s.execute(select(CountingDay.day, CountingDay.requests, CountingDay.bot_requests).where(
        CountingDay.tenant_id == tenant_id, CountingDay.day.between(first, last)).order_by(CountingDay.day)).all()
    index = pd.to_datetime([as_date(r[0]) for r in rows])
    return (pd.Series([float(r[1]) for r in rows], index=index, dtype=float),
            pd.Series([float(r[2]) for r in rows], index=index, dtype=float))


def _release_days(s: Session, tenant_id: int, first: date, last: date) -> dict[int, list[date]]:
    """Each podcast's release days first..last (UTC), oldest first."""
    start, end = day_bounds(first, last)
    rows = s.execute(select(Episode.podcast_id, Episode.published_at).where(
        Episode.tenant_id == tenant_id, Episode.published_at >= start, Episode.published_at < end)
        .order_by(Episode.published_at)).all()
    out: dict[int, list[date]] = {}
    for podcast_id, published in rows:
        moment = pd.Timestamp(published)
        day = (moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")).date()
        if day not in out.setdefault(podcast_id, []):
            out[podcast_id].append(day)
    return out


def _newest_day(s: Session, tenant_id: int) -> date | None:
    m = view(PodcastDailyMetric).c
    return as_date(s.scalar(select(func.max(m.day)).where(m.tenant_id == tenant_id)))
