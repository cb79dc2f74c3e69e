"""The measurement store's one interface: write counted downloads, refresh rollups, and name the tenant views
dashboards read. Plain tables on SQLite and PostgreSQL; continuous aggregates where TimescaleDB is present."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import (
    Date, DateTime, Table, case, cast, column, delete, event, func, insert, select, table, text, type_coerce,
)
from sqlalchemy.orm import Session

from services.bulk import EncodedCopy, column_types, encode_copy, insert_frame, write_encoded
from services.db import run_pending_changes, tenant_data_changed
from services.measurement.stored import day_bounds, stored_downloads_equal, stored_rollup_equal
from services.models import (
    FIRST_EPISODE_DAY, FIRST_PODCAST_DAY, FIRST_PODCAST_HOUR, ROLLUPS, Download, EpisodeAppDailyMetric,
    EpisodeDailyMetric, EpisodeDeviceDailyMetric, EpisodeGeoDailyMetric,
    PodcastAppDailyMetric, PodcastDailyMetric, PodcastDeviceDailyMetric, PodcastGeoDailyMetric, PodcastHourlyMetric,
    PodcastReferrerDailyMetric,
)

logger = logging.getLogger(__name__)

DOWNLOAD_COLUMNS = ["ts", "tenant_id", "episode_id", "listener_key", "podcast_id", "app", "device", "os", "country",
                    "region", "referrer", "household_key", "flags"]
UNKNOWN = "unknown"  # rollup key for a missing dimension value (keys cannot be NULL)


def view(model) -> Table:
    """The tenant view over a time-series model (`tenant_<table>`): the only relation dashboards read."""
    return table(f"tenant_{model.__tablename__}", *(column(c.name, c.type) for c in model.__table__.columns))


def listener_flags(frame: pd.DataFrame) -> pd.Series:
    """Mark each download that is its listener's first in a grain, so summing flags counts distinct listeners."""
    # ts then episode: a deterministic order whatever order the frame came in (no two downloads share both).
    ordered = frame.sort_values(["ts", "episode_id"], kind="stable")
    ts = pd.to_datetime(ordered["ts"], utc=True)
    day, hour = ts.dt.floor("D"), ts.dt.floor("h")
    flags = (~pd.DataFrame({"p": ordered.podcast_id, "l": ordered.listener_key, "d": day}).duplicated()) * FIRST_PODCAST_DAY
    flags += (~pd.DataFrame({"e": ordered.episode_id, "l": ordered.listener_key, "d": day}).duplicated()) * FIRST_EPISODE_DAY
    flags += (~pd.DataFrame({"p": ordered.podcast_id, "l": ordered.listener_key, "h": hour}).duplicated()) * FIRST_PODCAST_HOUR
    return flags.reindex(frame.index).astype("int16")


def replace_downloads(session: Session, tenant_id: int, first: date, last: date, frame: pd.DataFrame,
                      rollups: bool = False) -> int:
    """Make the tenant's downloads on days first..last exactly `frame` (idempotent: a recount replaces).

    With `rollups`, the plain-table rollups of those days are rewritten from the same frame (replace_rollups);
    on TimescaleDB the continuous aggregates follow by refresh_rollups instead, so nothing is written here.
    On PostgreSQL a recount that changes nothing (the usual case) rewrites no download: deleting and
    re-inserting the same rows costs the server far more than reading them back to compare."""
    prepared = prepare_downloads(frame, rollups=rollups and not is_timescale(session))
    return write_downloads(session, tenant_id, first, last, prepared)


@dataclass
class PreparedDownloads:
    """What replace_downloads writes, made without a database (so on any thread, ahead of the write): the
    downloads as DOWNLOAD_COLUMNS with flags, in primary-key order, and each rollup's rows in its key order
    (None: no rollups written); with `encoded`, those rows already made into COPY data, by table name."""

    frame: pd.DataFrame
    rollups: list[pd.DataFrame] | None
    encoded: dict[str, EncodedCopy] = field(default_factory=dict)


def copy_types(session: Session) -> dict[str, dict[str, str]]:
    """The column types of the downloads table and the rollup tables (PostgreSQL), as prepare_downloads takes
    them to make their COPY data."""
    raw = session.connection().connection.driver_connection
    return {model.__tablename__: column_types(raw, model.__tablename__)
            for model in (Download, *(m for m, _k, _b in ROLLUP_SPECS))}


def prepare_downloads(frame: pd.DataFrame, rollups: bool,
                      types: dict[str, dict[str, str]] | None = None) -> PreparedDownloads:
    """`types` (copy_types'): also make the rows' COPY data now, so that the session writing them only sends it
    (worth it when they will be written: a first count of the days)."""
    if not frame.empty:
        # In primary-key order: PostgreSQL's index inserts then go mostly to the rightmost pages (3x faster).
        frame = frame.sort_values(["ts", "episode_id"], kind="stable")
        if "household_key" not in frame:  # a frame from before household keys: no household
            frame = frame.assign(household_key=None)
        frame = frame.assign(flags=listener_flags(frame))[DOWNLOAD_COLUMNS]
    prepared = PreparedDownloads(frame, _keyed_rollup_frames(frame) if rollups else None)
    if types is not None:
        tables = [(Download, frame)] + list(zip((m for m, _k, _b in ROLLUP_SPECS), prepared.rollups or []))
        prepared.encoded = {model.__tablename__: encode_copy(model.__tablename__, rows, types[model.__tablename__])
                            for model, rows in tables if not rows.empty}
    return prepared


def _insert(session: Session, model, rows: pd.DataFrame, encoded: dict[str, EncodedCopy]) -> int:
    """insert_frame of the rows, or the COPY data made of them ahead (PreparedDownloads.encoded)."""
    made = encoded.get(model.__tablename__)
    if made is not None and session.get_bind().dialect.name == "postgresql":
        return write_encoded(session, model.__table__, made)
    return insert_frame(session, model.__table__, rows)


def _keyed_rollup_frames(downloads: pd.DataFrame) -> list[pd.DataFrame]:
    """rollup_frames' frames, each in its table's primary-key order, as the downloads are written (index inserts
    stay local)."""
    return [rows if rows.empty else rows.sort_values([c.name for c in model.__table__.primary_key.columns],
                                                     kind="stable")
            for model, rows in rollup_frames(downloads)]


def write_downloads(session: Session, tenant_id: int, first: date, last: date, prepared: PreparedDownloads) -> int:
    """replace_downloads' writes of what prepare_downloads made; the number of downloads."""
    tenant_data_changed(session, tenant_id)
    start, end = day_bounds(first, last)
    frame = prepared.frame
    unchanged = not frame.empty and session.get_bind().dialect.name == "postgresql" and \
        stored_downloads_equal(session, tenant_id, start, end, frame)
    if not unchanged:
        # synchronize_session=False: no ORM objects to update, and PostgreSQL need not return every deleted key.
        session.execute(delete(Download).where(Download.tenant_id == tenant_id, Download.ts >= start,
                                               Download.ts < end).execution_options(synchronize_session=False))
    if prepared.rollups is not None:
        _write_rollups(session, tenant_id, first, last, prepared.rollups, prepared.encoded)
    if frame.empty:
        return 0
    return len(frame) if unchanged else _insert(session, Download, frame, prepared.encoded)



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


# The rollups, one entry each: (model, keys, listener bit). A key is "day" or "hour" (the download's UTC day or
# hour), a downloads column, or (column, value used when it is NULL). Every rollup also groups by tenant and
# podcast and sums `downloads` (rows) and `listeners` (rows whose flags carry the bit). Both ways of filling the
# plain tables read this list: refresh_rollups (SQL over the downloads table) and rollup_frames (pandas over the
# downloads just counted, which counting writes with COPY). On TimescaleDB the rollups are continuous aggregates
# (migration 0004) and refresh by time range instead.
ROLLUP_SPECS = [
    (PodcastHourlyMetric, ("hour",), FIRST_PODCAST_HOUR),
    (PodcastDailyMetric, ("day",), FIRST_PODCAST_DAY),
    (EpisodeDailyMetric, ("day", "episode_id"), FIRST_EPISODE_DAY),
    (PodcastAppDailyMetric, ("day", ("app", UNKNOWN)), FIRST_PODCAST_DAY),
    (PodcastDeviceDailyMetric, ("day", ("device", UNKNOWN), ("os", UNKNOWN)), FIRST_PODCAST_DAY),
    (PodcastGeoDailyMetric, ("day", ("country", "ZZ"), ("region", "")), FIRST_PODCAST_DAY),
    (PodcastReferrerDailyMetric, ("day", ("referrer", UNKNOWN)), FIRST_PODCAST_DAY),
    (EpisodeAppDailyMetric, ("day", "episode_id", ("app", UNKNOWN)), FIRST_EPISODE_DAY),
    (EpisodeDeviceDailyMetric, ("day", "episode_id", ("device", UNKNOWN)), FIRST_EPISODE_DAY),
    (EpisodeGeoDailyMetric, ("day", "episode_id", ("country", "ZZ")), FIRST_EPISODE_DAY),
]


def _key_name(key) -> str:
    return key if isinstance(key, str) else key[0]


def _delete_rollups(session: Session, tenant_id: int, first: date, last: date) -> None:
    for model, _keys, _bit in ROLLUP_SPECS:
        _delete_rollup(session, model, tenant_id, first, last)


def refresh_rollups(session: Session, tenant_id: int, first: date, last: date) -> None:
    """Bring every rollup up to date for the tenant's days first..last."""
    tenant_data_changed(session, tenant_id)
    start, end = day_bounds(first, last)
    if is_timescale(session):
        # Continuous aggregates refresh by time range for all tenants; refreshing twice is harmless. The CALL cannot
        # run inside a transaction block, and the recount it must see is not committed yet: so until the commit the
        # aggregates answer by real-time aggregation (materialized_only = false) above their watermark, and right
        # after the commit the range is refreshed on the same connection in autocommit (one connection: no second
        # session to wait for). A failed refresh is logged, not raised: the data is committed and the refresh
        # policy, or the next refresh of the range, catches up.
        refresh_after_commit(session, start, end)
        return
    grains = {"day": _day(session).label("day"), "hour": _hour(session).label("hour")}
    where = (Download.tenant_id == tenant_id, Download.ts >= start, Download.ts < end)
    _delete_rollups(session, tenant_id, first, last)
    for model, spec_keys, bit in ROLLUP_SPECS:
        keys = [grains[k] if k in grains else getattr(Download, k) if isinstance(k, str)
                else func.coalesce(getattr(Download, k[0]), k[1]).label(k[0]) for k in spec_keys]
        rows = select(Download.tenant_id, Download.podcast_id, *keys, func.count().label("downloads"),
                      _listeners(bit).label("listeners")).where(*where).group_by(
            Download.tenant_id, Download.podcast_id, *keys)
        names = ["tenant_id", "podcast_id"] + [_key_name(k) for k in spec_keys] + ["downloads", "listeners"]
        session.execute(insert(model).from_select(names, rows))


def rollup_frames(downloads: pd.DataFrame) -> list[tuple[type, pd.DataFrame]]:
    """Every rollup's rows over `downloads` (DOWNLOAD_COLUMNS, flags included), as refresh_rollups would
    compute them from the table for the days the frame covers."""
    if downloads.empty:
        return [(model, pd.DataFrame()) for model, _keys, _bit in ROLLUP_SPECS]
    ts = pd.to_datetime(downloads["ts"], utc=True)
    day_int = ts.dt.tz_localize(None).to_numpy(dtype="datetime64[D]").view(np.int64)
    day_codes, days = pd.factorize(day_int)
    columns = {
        "day": pd.Categorical.from_codes(day_codes, categories=pd.Index(
            [date(1970, 1, 1) + timedelta(days=int(d)) for d in days], dtype=object)),
        "hour": ts.dt.floor("h"),
    }
    flags = downloads["flags"].to_numpy()
    base = {"tenant_id": downloads["tenant_id"].to_numpy(), "podcast_id": downloads["podcast_id"].to_numpy()}
    out = []
    for model, spec_keys, bit in ROLLUP_SPECS:
        data = dict(base)
        for key in spec_keys:
            if isinstance(key, str):
                data[key] = columns[key] if key in columns else downloads[key].to_numpy()
            else:
                data[key[0]] = _filled(downloads[key[0]], key[1])
        data["listeners"] = (flags & bit) != 0
        frame = pd.DataFrame(data, index=downloads.index)
        grouped = frame.groupby([n for n in data if n != "listeners"], observed=True, sort=False)["listeners"]
        rows = grouped.agg(["size", "sum"]).reset_index().rename(columns={"size": "downloads", "sum": "listeners"})
        rows["downloads"] = rows["downloads"].astype("int64")
        rows["listeners"] = rows["listeners"].astype("int64")
        out.append((model, rows))
    return out


def _filled(values: pd.Series, fill: str):
    """values with NULL replaced by `fill` (as coalesce does), categorical when the values were."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        codes = values.cat.codes.to_numpy()
        if (codes < 0).any():
            if fill in categories:
                codes = np.where(codes < 0, categories.get_loc(fill), codes)
            else:
                codes = np.where(codes < 0, len(categories), codes)
                categories = categories.append(pd.Index([fill], dtype=categories.dtype))
        return pd.Categorical.from_codes(codes, categories=categories)
    return values.astype(object).where(values.notna(), fill).to_numpy()


def replace_rollups(session: Session, tenant_id: int, first: date, last: date, downloads: pd.DataFrame) -> None:
    """Make the plain-table rollups for the tenant's days first..last exactly those of `downloads` (all the
    tenant's downloads on those days, flags set): refresh_rollups without reading the downloads table back.

    On PostgreSQL a rollup whose stored rows for those days are already exactly these (a recount that changes
    nothing) is left alone: reading its rows back costs far less than deleting and re-indexing them."""
    tenant_data_changed(session, tenant_id)
    _write_rollups(session, tenant_id, first, last, _keyed_rollup_frames(downloads))


def _write_rollups(session: Session, tenant_id: int, first: date, last: date, frames: list[pd.DataFrame],
                   encoded: dict[str, EncodedCopy] | None = None) -> None:
    """replace_rollups' writes of the rollups' rows (prepare_downloads' frames, in ROLLUP_SPECS' order; `encoded`:
    their COPY data where made ahead)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    for (model, keys, _bit), rows in zip(ROLLUP_SPECS, frames):
        names = [_key_name(k) for k in keys]
        if postgres and not rows.empty and stored_rollup_equal(session, model, names, tenant_id, first, last, rows):
            continue
        _delete_rollup(session, model, tenant_id, first, last)
        if not rows.empty:
            _insert(session, model, rows, encoded or {})


def _delete_rollup(session: Session, model, tenant_id: int, first: date, last: date) -> None:
    start, end = day_bounds(first, last)
    span = (model.hour >= start, model.hour < end) if hasattr(model, "hour") else (model.day.between(first, last),)
    session.execute(delete(model).where(model.tenant_id == tenant_id, *span)
                    .execution_options(synchronize_session=False))



def refresh_after_commit(session: Session, start: datetime, end: datetime,
                         views: tuple[str, ...] | None = None) -> None:
    """Queue [start, end) of the continuous aggregates `views` (default: the download rollups) to refresh right after
    this transaction commits (dropped if it rolls back)."""
    raw = session.connection().connection.driver_connection  # still this session's connection at after_commit
    names = views if views is not None else tuple(model.__tablename__ for model in ROLLUPS)
    session.info.setdefault("timescale_refresh", (raw, []))[1].append((start, end, names))
    if not session.info.get("timescale_hooks"):
        session.info["timescale_hooks"] = True
        event.listen(session, "after_commit", _refresh_pending)
        event.listen(session, "after_rollback", lambda s: s.info.pop("timescale_refresh", None))


def _refresh_pending(session: Session) -> None:
    raw, ranges = session.info.pop("timescale_refresh", (None, []))
    if not ranges:
        run_pending_changes(session)
        return
    autocommit = raw.autocommit
    try:
        raw.autocommit = True
        for lo, hi, names in ranges:
            for name in names:
                raw.execute("CALL refresh_continuous_aggregate(%s, %s, %s)", (name, lo, hi))
    except Exception:  # noqa: BLE001 - the data is committed; the refresh policy catches up
        logger.exception("refreshing continuous aggregates after commit failed")
    finally:
        raw.autocommit = autocommit
    run_pending_changes(session)  # the dashboards' cache moves on once the aggregates are current


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
