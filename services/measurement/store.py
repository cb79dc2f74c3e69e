"""The measurement store's one interface: write counted downloads, refresh rollups, and name the tenant views
dashboards read. Plain tables on SQLite and PostgreSQL; continuous aggregates where TimescaleDB is present."""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone

import pandas as pd
from sqlalchemy import (
    Date, DateTime, Table, case, cast, column, delete, event, func, insert, select, table, text, type_coerce,
)
from sqlalchemy.orm import Session

from services.bulk import insert_frame
from services.models import (
    FIRST_EPISODE_DAY, FIRST_PODCAST_DAY, FIRST_PODCAST_HOUR, ROLLUPS, Download, EpisodeAppDailyMetric,
    EpisodeDailyMetric, EpisodeDeviceDailyMetric, EpisodeGeoDailyMetric,
    PodcastAppDailyMetric, PodcastDailyMetric, PodcastDeviceDailyMetric, PodcastGeoDailyMetric, PodcastHourlyMetric,
    PodcastReferrerDailyMetric,
)

logger = logging.getLogger(__name__)

DOWNLOAD_COLUMNS = ["ts", "tenant_id", "episode_id", "listener_key", "podcast_id", "app", "device", "os", "country",
                    "region", "referrer", "flags"]
UNKNOWN = "unknown"  # rollup key for a missing dimension value (keys cannot be NULL)


def view(model) -> Table:
    """The tenant view over a time-series model (`tenant_<table>`): the only relation dashboards read."""
    return table(f"tenant_{model.__tablename__}", *(column(c.name, c.type) for c in model.__table__.columns))


def day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00 UTC, the day after last 00:00 UTC)."""
    return (datetime.combine(first, time.min, tzinfo=timezone.utc),
            datetime.combine(last + timedelta(days=1), time.min, tzinfo=timezone.utc))


def listener_flags(frame: pd.DataFrame) -> pd.Series:
    """Mark each download that is its listener's first in a grain, so summing flags counts distinct listeners."""
    ordered = frame.sort_values("ts", kind="stable")
    ts = pd.to_datetime(ordered["ts"], utc=True)
    day, hour = ts.dt.floor("D"), ts.dt.floor("h")
    flags = (~pd.DataFrame({"p": ordered.podcast_id, "l": ordered.listener_key, "d": day}).duplicated()) * FIRST_PODCAST_DAY
    flags += (~pd.DataFrame({"e": ordered.episode_id, "l": ordered.listener_key, "d": day}).duplicated()) * FIRST_EPISODE_DAY
    flags += (~pd.DataFrame({"p": ordered.podcast_id, "l": ordered.listener_key, "h": hour}).duplicated()) * FIRST_PODCAST_HOUR
    return flags.reindex(frame.index).astype("int16")


def replace_downloads(session: Session, tenant_id: int, first: date, last: date, frame: pd.DataFrame) -> int:
    """Make the tenant's downloads on days first..last exactly `frame` (idempotent: a recount replaces)."""
    start, end = day_bounds(first, last)
    session.execute(delete(Download).where(Download.tenant_id == tenant_id, Download.ts >= start, Download.ts < end))
    if frame.empty:
        return 0
    frame = frame.assign(flags=listener_flags(frame))[DOWNLOAD_COLUMNS]
    return insert_frame(session, Download.__table__, frame)


def _day(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", Download.ts), Date)
    return func.date(Download.ts)


def _hour(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("hour", Download.ts)
    return type_coerce(func.strftime("%Y-%m-%d %H:00:00.000000", Download.ts), DateTime)


def _listeners(bit: int):
    return func.sum(case((Download.flags.op("&")(bit) != 0, 1), else_=0))


def is_timescale(session: Session) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return False
    return bool(session.execute(text(
        "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).first())


def refresh_rollups(session: Session, tenant_id: int, first: date, last: date) -> None:
    """Bring every rollup up to date for the tenant's days first..last."""
    start, end = day_bounds(first, last)
    if is_timescale(session):
        # Continuous aggregates refresh by time range for all tenants; refreshing twice is harmless. The CALL cannot
        # run inside a transaction block, and the recount it must see is not committed yet: so until the commit the
        # aggregates answer by real-time aggregation (materialized_only = false) above their watermark, and right
        # after the commit the range is refreshed on the same connection in autocommit (one connection: no second
        # session to wait for). A failed refresh is logged, not raised: the data is committed and the refresh
        # policy, or the next refresh of the range, catches up.
        _refresh_after_commit(session, start, end)
        return
    day, hour = _day(session), _hour(session)
    where = (Download.tenant_id == tenant_id, Download.ts >= start, Download.ts < end)
    for model in ROLLUPS:
        span = (model.hour >= start, model.hour < end) if model is PodcastHourlyMetric else (model.day.between(first, last),)
        session.execute(delete(model).where(model.tenant_id == tenant_id, *span))
    specs = [
        (PodcastHourlyMetric, [hour.label("hour")], FIRST_PODCAST_HOUR),
        (PodcastDailyMetric, [day.label("day")], FIRST_PODCAST_DAY),
        (EpisodeDailyMetric, [day.label("day"), Download.episode_id], FIRST_EPISODE_DAY),
        (PodcastAppDailyMetric, [day.label("day"), func.coalesce(Download.app, UNKNOWN).label("app")], FIRST_PODCAST_DAY),
        (PodcastDeviceDailyMetric, [day.label("day"), func.coalesce(Download.device, UNKNOWN).label("device"),
                                    func.coalesce(Download.os, UNKNOWN).label("os")], FIRST_PODCAST_DAY),
        (PodcastGeoDailyMetric, [day.label("day"), func.coalesce(Download.country, "ZZ").label("country"),
                                 func.coalesce(Download.region, "").label("region")], FIRST_PODCAST_DAY),
        (PodcastReferrerDailyMetric, [day.label("day"), func.coalesce(Download.referrer, UNKNOWN).label("referrer")],
         FIRST_PODCAST_DAY),
        (EpisodeAppDailyMetric, [day.label("day"), Download.episode_id,
                                 func.coalesce(Download.app, UNKNOWN).label("app")], FIRST_EPISODE_DAY),
        (EpisodeDeviceDailyMetric, [day.label("day"), Download.episode_id,
                                    func.coalesce(Download.device, UNKNOWN).label("device")], FIRST_EPISODE_DAY),
        (EpisodeGeoDailyMetric, [day.label("day"), Download.episode_id,
                                 func.coalesce(Download.country, "ZZ").label("country")], FIRST_EPISODE_DAY),
    ]
    for model, keys, bit in specs:
        rows = select(Download.tenant_id, Download.podcast_id, *keys, func.count().label("downloads"),
                      _listeners(bit).label("listeners")).where(*where).group_by(
            Download.tenant_id, Download.podcast_id, *keys)
        names = ["tenant_id", "podcast_id"] + [k.name if hasattr(k, "name") else k.key for k in keys] + [
            "downloads", "listeners"]
        session.execute(insert(model).from_select(names, rows))


def _refresh_after_commit(session: Session, start: datetime, end: datetime) -> None:
    """Queue [start, end) to refresh right after this transaction commits (dropped if it rolls back)."""
    raw = session.connection().connection.driver_connection  # still this session's connection at after_commit
    session.info.setdefault("timescale_refresh", (raw, []))[1].append((start, end))
    if not session.info.get("timescale_hooks"):
        session.info["timescale_hooks"] = True
        event.listen(session, "after_commit", _refresh_pending)
        event.listen(session, "after_rollback", lambda s: s.info.pop("timescale_refresh", None))


def _refresh_pending(session: Session) -> None:
    raw, ranges = session.info.pop("timescale_refresh", (None, []))
    if not ranges:
        return
    autocommit = raw.autocommit
    try:
        raw.autocommit = True
        for lo, hi in ranges:
            for model in ROLLUPS:
                raw.execute("CALL refresh_continuous_aggregate(%s, %s, %s)", (model.__tablename__, lo, hi))
    except Exception:  # noqa: BLE001 - the data is committed; the refresh policy catches up
        logger.exception("refreshing continuous aggregates after commit failed")
    finally:
        raw.autocommit = autocommit


def downloads_span(session: Session, tenant_id: int) -> tuple[date, date] | None:
    """First and last UTC day with counted downloads for the tenant."""
    lo, hi = session.execute(select(func.min(Download.ts), func.max(Download.ts))
                             .where(Download.tenant_id == tenant_id)).one()
    if lo is None:
        return None
    return pd.Timestamp(lo).date(), pd.Timestamp(hi).date()



def refresh_tenant(session: Session, tenant_id: int, since: date | None = None) -> int:
    """Refresh the tenant's rollups from `since` (all counted history when None) to its last download;
    returns the number of episode-day rows now covering that span."""
    span = downloads_span(session, tenant_id)
    if span is None:
        return 0
    first = max(span[0], since) if since else span[0]
    if first > span[1]:
        return 0
    refresh_rollups(session, tenant_id, first, span[1])
    return session.scalar(select(func.count()).select_from(EpisodeDailyMetric).where(
        EpisodeDailyMetric.tenant_id == tenant_id, EpisodeDailyMetric.day.between(first, span[1]))) or 0
