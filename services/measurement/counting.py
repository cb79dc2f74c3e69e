"""Counting: raw requests -> IAB v2.3 downloads. Filter, map to episodes, apply the byte threshold, dedupe per
listener and episode in the tenant's window, classify, and replace the counted days (so a recount is a no-op).
The rules (count_partition) run in this process or, with a Dask engine, on workers (engines.py); reads and writes
stay here."""
from __future__ import annotations

import functools
import logging
import re
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from services.db import Database
from services.measurement import store
from services.measurement.engines import LOCAL, CountingEngine, SlabCount
from services.measurement.raw_reads import read_countable
from services.measurement.requests import PLAIN_PROBES, is_probe_range
from services.measurement.urls import try_enclosure_match_key
from services.measurement.useragents import default_classifier
from services.models import CountingDay, CountingState, DownloadRequest, Episode, Tenant
from services.models.base import utcnow

logger = logging.getLogger(__name__)

DAY = pd.Timedelta(days=1)
SLAB_DAYS = 31  # at most this many days counted per pass
SLAB_ROWS = 2_000_000  # and at most about this many raw requests (a busier day is a slab of its own): bounds memory
THRESHOLD_SECONDS = 60  # IAB: at least one minute of audio must be delivered
PROBE_RANGE = r"\s*bytes=(?:0-0|0-1|1-1)\s*"
RANGE_START = r"^\s*bytes=(\d{1,20})-(\d{0,20})\s*(?:,|$)"


@dataclass
class CountReport:
    tenant_id: int
    first_day: date | None = None
    last_day: date | None = None
    requests: int = 0
    downloads: int = 0
    dropped: Counter = field(default_factory=Counter)
    bots_by_day: Counter = field(default_factory=Counter)  # day -> requests dropped as bots

    def as_dict(self) -> dict:
        return {"tenant_id": self.tenant_id, "first_day": self.first_day and self.first_day.isoformat(),
                "last_day": self.last_day and self.last_day.isoformat(), "requests": self.requests,
                "downloads": self.downloads, "dropped": dict(self.dropped)}


@dataclass(frozen=True)
class EpisodeIndex:
    """The tenant's episodes by enclosure match key, with what the byte threshold needs."""

    by_key: dict[str, int]
    episodes: pd.DataFrame  # index episode_id: podcast_id, threshold_bytes (NaN = cannot apply)
    resolved: dict = field(default_factory=dict, compare=False)  # URL -> episode id or None, across slabs

    @classmethod
    def load(cls, session: Session, tenant_id: int) -> EpisodeIndex:
        rows = session.execute(select(Episode.id, Episode.podcast_id, Episode.match_key, Episode.enclosure_url,
                                      Episode.enclosure_length, Episode.duration_seconds)
                               .where(Episode.tenant_id == tenant_id)).all()
        frame = pd.DataFrame(rows, columns=["episode_id", "podcast_id", "match_key", "url", "length", "duration"])
        by_key: dict[str, int] = {}
        for row in frame.itertuples():
            key = row.match_key or try_enclosure_match_key(row.url)
            if key:
                by_key.setdefault(key, row.episode_id)
                by_key.setdefault(key.split("?", 1)[0], row.episode_id)
        frame["threshold_bytes"] = byte_threshold(frame["length"], frame["duration"])
        return cls(by_key, frame.set_index("episode_id")[["podcast_id", "threshold_bytes"]])

    def episode_for_urls(self, urls) -> dict[str, int]:
        """Requested URL -> episode id, each distinct URL resolved once: exact key first, then without the
        query string (players append their own parameters)."""
        found = {}
        resolved = self.resolved
        for url in urls:
            if url in resolved:
                episode = resolved[url]
            else:
                key = _match_key(url)
                episode = None if key is None else self.by_key.get(key) or self.by_key.get(key.split("?", 1)[0])
                resolved[url] = episode
            if episode is not None:
                found[url] = episode
        return found

    def episode_ids(self, urls: pd.Series) -> np.ndarray:
        """Each request's episode id (int64), -1 where its URL matches none; resolved once per distinct URL."""
        column = urls.astype("category").array
        found = self.episode_for_urls(column.categories)
        per_url = np.asarray([found.get(url, -1) for url in column.categories] + [-1], dtype=np.int64)
        return per_url.take(column.codes)


# A URL's match key depends on the URL alone: remembered across counts and imports (a worker counts the same
# URLs day after day), up to a bound on memory.
_match_key = functools.lru_cache(maxsize=200_000)(try_enclosure_match_key)


def byte_threshold(length: pd.Series, duration: pd.Series) -> pd.Series:
    """Bytes that make one minute: 60 s at the file's byte rate, or the whole file when it is shorter than a
    minute or its duration is unknown; NaN when the size is unknown (the threshold cannot apply). The ID3
    header's size is not known before download, so it is not added: this errs towards counting."""
    length = pd.to_numeric(length, errors="coerce").astype(float)
    duration = pd.to_numeric(duration, errors="coerce").astype(float)
    per_minute = length / duration * THRESHOLD_SECONDS
    return per_minute.where((duration > THRESHOLD_SECONDS) & (length > 0), length.where(length > 0))


def filter_requests(raw: pd.DataFrame, episodes: EpisodeIndex, classify: Callable,
                    bots_by_day: Counter | None = None) -> tuple[pd.DataFrame, Counter]:
    """Drop what IAB says is not a download; returns the kept rows (with episode and classification) and why the
    others went. With `bots_by_day`, the requests dropped as bots are also added up per UTC day there."""
    dropped: Counter = Counter()
    in_window = raw["in_window"].to_numpy()
    status = pd.to_numeric(raw["status"], errors="coerce")
    # Every rule is judged per row, so all are judged on the whole frame and each dropped row is reported under
    # the first rule that drops it; the frame is then filtered once.
    rules = [
        (by_value(raw["method"], lambda v: v.str.upper() != "GET"), "not a GET (HEAD and others)"),
        (status == 304, "304 Not Modified"),
        (status.notna() & ~status.between(200, 299), "error or redirect status"),
        (by_value(raw["range"], probe_ranges), "bytes=0-1 probe only"),
        (by_value(raw["user_agent"], lambda v: v.fillna("").str.strip() == ""), "bot: empty user agent"),
    ]
    gone = np.zeros(len(raw), dtype=bool)
    for mask, reason in rules:
        mask = mask.fillna(False).to_numpy(dtype=bool) & ~gone  # a missing value (NA status) matches no rule
        if mask.any():
            dropped[reason] += int((mask & in_window).sum())  # look-back rows are reported by their own day
            if reason.startswith("bot"):
                _add_days(bots_by_day, raw["ts"], mask & in_window)
            gone |= mask
    raw = raw[~gone]
    in_window = in_window[~gone]
    classes = classify(raw["user_agent"], raw["referer"])
    is_bot = classes["is_bot"].to_numpy(dtype=bool)
    for reason, count in classes.loc[is_bot & in_window, "bot_reason"].fillna("bot").value_counts().items():
        dropped[f"bot: {reason}"] += int(count)
    _add_days(bots_by_day, raw["ts"], is_bot & in_window)
    raw, classes, in_window = raw[~is_bot], classes[~is_bot], in_window[~is_bot]
    episode_id = episodes.episode_ids(raw["url"])
    unmapped = episode_id < 0
    if unmapped.any():
        dropped["no matching episode"] += int((unmapped & in_window).sum())
    keep = ~unmapped
    raw = raw[keep].assign(episode_id=episode_id[keep])
    classes = classes[keep]
    raw = raw.assign(app=classes["name"].to_numpy(), device=classes["device_category"].to_numpy(),
                     os=classes["os"].to_numpy(), referrer=classes["referrer_name"].to_numpy())
    raw["podcast_id"] = episodes.episodes["podcast_id"].reindex(raw["episode_id"]).to_numpy()
    return raw, dropped


def _add_days(days: Counter | None, ts: pd.Series, mask: np.ndarray) -> None:
    if days is not None and mask.any():
        days.update({d: int(n) for d, n in pd.to_datetime(ts[mask], utc=True).dt.date.value_counts().items()})


def by_value(series: pd.Series, func: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """func, a row-wise vectorised rule, applied to each distinct value once (NA included) and mapped back to
    every row: raw columns repeat few values (methods, agents, ranges)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes, uniques = series.cat.codes.to_numpy(), pd.Series(series.cat.categories.to_numpy(dtype=object),
                                                               dtype=object)
    else:
        codes, uniques = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=True)
        uniques = pd.Series(uniques, dtype=object)
    values = pd.concat([uniques, pd.Series([None], dtype=object)], ignore_index=True)
    result = np.asarray(func(values))
    return pd.Series(result[np.where(codes < 0, len(values) - 1, codes)], index=series.index)


_SIMPLE_DIGITS = 15  # fast path only below 2**53: exact whatever dtype the regex path would have produced


def _simple_ranges(values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which values are exactly `bytes=<start>-[<end>]` (lowercase, ASCII digits, no spaces, one range) and
    their start and end (-1: open). The others keep the regex rules."""
    n = len(values)
    simple, start, end = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64), np.full(n, -1, dtype=np.int64)
    for i, value in enumerate(values):
        if type(value) is str and value.startswith("bytes="):
            a, dash, b = value[6:].partition("-")
            if dash and 0 < len(a) <= _SIMPLE_DIGITS and len(b) <= _SIMPLE_DIGITS and a.isascii() and a.isdigit() \
                    and (not b or (b.isascii() and b.isdigit())):
                simple[i], start[i], end[i] = True, int(a), int(b) if b else -1
    return simple, start, end


def probe_ranges(ranges: pd.Series) -> pd.Series:
    """Vectorised is_probe_range: plain single ranges by a set lookup, other single ranges by one regex, the rare
    multi-range headers one by one."""
    values = ranges.to_numpy(dtype=object)
    simple, _, _ = _simple_ranges(values)
    probe = np.fromiter((simple[i] and values[i] in PLAIN_PROBES for i in range(len(values))), dtype=bool,
                        count=len(values))
    if not simple.all():
        probe[~simple] = _probe_ranges_regex(ranges[~simple]).to_numpy()
    return pd.Series(probe, index=ranges.index)


def _probe_ranges_regex(ranges: pd.Series) -> pd.Series:
    ranges = ranges.astype(object).where(ranges.notna(), None)
    text = ranges.astype("string")
    probe = text.str.fullmatch(PROBE_RANGE, case=False).fillna(False).astype(bool)
    multi = text.str.contains(",", regex=False).fillna(False).astype(bool)
    if multi.any():
        probe[multi] = [is_probe_range(value) for value in ranges[multi]]
    return probe


def range_starts(ranges: pd.Series) -> pd.Series:
    """First byte each Range header asks for (0 when absent, open or a suffix range), vectorised."""
    values = ranges.to_numpy(dtype=object)
    simple, start, end = _simple_ranges(values)
    out = np.where((end >= 0) & (end < start), 0, start)  # an end before the start is no range
    if not simple.all():
        out[~simple] = _range_starts_regex(ranges[~simple]).to_numpy()
    return pd.Series(out, index=ranges.index)


def _range_starts_regex(ranges: pd.Series) -> pd.Series:
    parts = ranges.astype("string").str.extract(RANGE_START, flags=re.IGNORECASE)
    start = pd.to_numeric(parts[0], errors="coerce")
    end = pd.to_numeric(parts[1].replace("", pd.NA), errors="coerce")
    backwards = (end < start).fillna(False).astype(bool)  # an end before the start is no range
    return start.mask(backwards, 0).fillna(0).astype("int64")


def apply_byte_threshold(frame: pd.DataFrame, episodes: EpisodeIndex) -> pd.Series:
    """True for requests of (listener, episode, UTC day) groups that delivered at least a minute; requests without
    a byte count (the tracking prefix sees none) pass. Byte ranges are reassembled: overlaps count once."""
    known = frame["bytes"].notna()
    passed = pd.Series(True, index=frame.index)
    if not known.any():
        return passed
    part = frame.loc[known, ["listener_key", "episode_id", "ts", "bytes", "range"]].copy()
    part["start"] = by_value(part["range"], range_starts).to_numpy()
    if "range_start" in frame:  # read_countable parsed the plain ranges on the server and sent no text for them
        parsed = frame.loc[known, "range_start"]
        part["start"] = np.where(parsed.notna(), parsed.fillna(0).to_numpy(np.int64), part["start"].to_numpy())
    part["end"] = part["start"] + part["bytes"].astype("int64")
    part["day"] = part["ts"].dt.floor("D")
    part = part.sort_values(["listener_key", "episode_id", "day", "start"])
    group = [part["listener_key"], part["episode_id"], part["day"]]
    reach = part.groupby(group, sort=False)["end"].cummax()
    prev_reach = reach.groupby(group, sort=False).shift(1).fillna(0).astype("int64")
    covered = (part["end"] - np.maximum(part["start"], prev_reach)).clip(lower=0)
    total = covered.groupby(group, sort=False).transform("sum")
    threshold = episodes.episodes["threshold_bytes"].reindex(part["episode_id"]).to_numpy()
    ok = np.isnan(threshold) | (total.to_numpy() >= threshold)
    passed.loc[part.index] = ok
    return passed


def dedupe(frame: pd.DataFrame, window: str) -> pd.Series:
    """Which requests become downloads, per (episode, listener): `calendar` (first per UTC day), `first-touch`
    (a request 24 h or more after the last counted one) or `last-touch` (a request more than 24 h after the
    previous request). `frame` must be sorted by episode, listener, ts."""
    if frame.empty:  # every request of the slab (or partition) was filtered out
        return pd.Series(np.zeros(0, dtype=bool), index=frame.index)
    listener = frame["listener_key"]
    listener = listener.cat.codes.to_numpy() if isinstance(listener.dtype, pd.CategoricalDtype) else listener.to_numpy()
    same = (frame["episode_id"].to_numpy()[1:] == frame["episode_id"].to_numpy()[:-1]) & (
        listener[1:] == listener[:-1])
    first_in_group = np.concatenate([[True], ~same])
    ts = frame["ts"].dt.tz_convert(None).to_numpy() if frame["ts"].dt.tz else frame["ts"].to_numpy()
    if window == "calendar":
        day = ts.astype("datetime64[D]")
        return pd.Series(first_in_group | np.concatenate([[True], day[1:] != day[:-1]]), index=frame.index)
    if window == "last-touch":
        gap = np.concatenate([[np.timedelta64(0)], ts[1:] - ts[:-1]])
        return pd.Series(first_in_group | (gap > np.timedelta64(1, "D")), index=frame.index)
    if window != "first-touch":
        raise ValueError(f"unknown dedupe window {window!r}")
    counted = first_in_group.copy()
    starts = np.flatnonzero(first_in_group)
    ends = np.append(starts[1:], len(ts))
    day = np.timedelta64(1, "D")
    for lo, hi in zip(starts[ends - starts > 1], ends[ends - starts > 1]):  # only groups with repeats loop
        anchor = ts[lo]
        for i in range(lo + 1, hi):
            if ts[i] - anchor >= day:
                counted[i], anchor = True, ts[i]
    return pd.Series(counted, index=frame.index)


def count_frame(raw: pd.DataFrame, episodes: EpisodeIndex, window: str, classify: Callable | None = None,
                since: pd.Timestamp | None = None, bots_by_day: Counter | None = None) -> tuple[pd.DataFrame, Counter]:
    """Pure counting over raw requests: the downloads they make, and why the rest were dropped. Rows before
    `since` only inform dedupe (they were counted with their own day): no downloads or drops come from them."""
    raw = raw.assign(ts=pd.to_datetime(raw["ts"], utc=True, format="mixed"))
    if "household_key" not in raw:  # requests stored before household keys: no household
        raw["household_key"] = None
    raw["in_window"] = True if since is None else raw["ts"] >= since
    kept, dropped = filter_requests(raw, episodes, classify or default_classifier().classify_many, bots_by_day)
    passed = apply_byte_threshold(kept, episodes)
    if (~passed).any():
        dropped["under one minute of audio delivered"] += int((~passed & kept["in_window"]).sum())
        kept = kept[passed]
    kept = kept.sort_values(["episode_id", "listener_key", "ts"], kind="stable")
    counted = dedupe(kept, window)
    dropped["duplicate within the dedupe window"] += int((~counted & kept["in_window"]).sum())
    downloads = kept[counted.to_numpy() & kept["in_window"].to_numpy()]
    # The download keeps the household of the request it was counted from.
    return downloads[["ts", "episode_id", "listener_key", "podcast_id", "app", "device", "os", "country", "region",
                      "referrer", "household_key"]], dropped


def count_partition(raw: pd.DataFrame, episodes: EpisodeIndex, window: str, since: pd.Timestamp | None) -> SlabCount:
    """count_frame over one partition of a slab's requests, with the bots it dropped per day: what every engine
    runs (a Dask worker too), so the rules live once. A partition holds whole (listener, episode) groups."""
    bots_by_day: Counter = Counter()
    downloads, dropped = count_frame(raw, episodes, window, since=since, bots_by_day=bots_by_day)
    return SlabCount(downloads, dropped, bots_by_day)


def count_downloads(db: Database, tenant_id: int, first: date | None = None, last: date | None = None,
                    progress: Callable[[float, str], None] | None = None,
                    engine: CountingEngine | None = None) -> CountReport:
    """Count the tenant's raw requests on days first..last (default: from the last counted day to the newest
    request) into downloads and rollups, in one transaction. Idempotent: counting the same days again changes
    nothing. `engine` runs the rules (default: in this process)."""
    with db.session(tenant_id, worker=True) as s:
        report = count_in_session(s, tenant_id, first, last, progress, engine)
        s.commit()
    logger.info("downloads counted", extra=report.as_dict())
    return report


def count_in_session(s: Session, tenant_id: int, first: date | None = None, last: date | None = None,
                     progress: Callable[[float, str], None] | None = None,
                     engine: CountingEngine | None = None) -> CountReport:
    """count_downloads inside the caller's transaction (the caller commits)."""
    engine = engine or LOCAL
    report = CountReport(tenant_id)
    progress = progress or (lambda _f, _m: None)
    window = s.scalar(select(Tenant.dedupe_window).where(Tenant.id == tenant_id))
    span = s.execute(select(func.min(DownloadRequest.ts), func.max(DownloadRequest.ts))
                     .where(DownloadRequest.tenant_id == tenant_id)).one()
    if span[0] is None:
        return report
    state = s.get(CountingState, tenant_id)
    default_first = pd.Timestamp(span[0]).date()
    if state and state.counted_until:
        default_first = max(default_first, pd.Timestamp(state.counted_until).date() - timedelta(days=1))
    # Days before the oldest raw request kept are never recounted: their requests are gone (retention), and a
    # recount would erase their downloads.
    first = max(first or default_first, pd.Timestamp(span[0]).date())
    last = last or pd.Timestamp(span[1]).date()
    if first > last:
        return report
    report.first_day, report.last_day = first, last
    episodes = EpisodeIndex.load(s, tenant_id)
    per_day = _requests_per_day(s, tenant_id, first, last)
    # Each slab is read, handed to the engine, and written once counted. The local engine counts as it is handed
    # a slab (read, count, write, one slab at a time); a remote one is handed the next slab while this process
    # writes the last (engine.lookahead slabs in flight).
    in_flight: deque[_Slab] = deque()
    for slab, slab_last in plan_slabs(per_day, first, last):
        in_flight.append(_start_slab(s, tenant_id, slab, slab_last, episodes, window, report, engine))
        while len(in_flight) > engine.lookahead:
            done = _finish_slab(s, tenant_id, in_flight.popleft(), report)
            progress((done - first).days / max((last - first).days, 1), f"counted through {done}")
    while in_flight:
        done = _finish_slab(s, tenant_id, in_flight.popleft(), report)
        progress((done - first).days / max((last - first).days, 1), f"counted through {done}")
    _record_counting_days(s, tenant_id, first, last, per_day, report.bots_by_day)
    if store.is_timescale(s):
        store.refresh_rollups(s, tenant_id, first, last)  # continuous aggregates; plain rollups follow each slab
    counted_until = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
    if state is None:
        s.add(CountingState(tenant_id=tenant_id, counted_until=counted_until))
    else:
        previous = _utc(state.counted_until) if state.counted_until else None
        state.counted_until = max(previous, counted_until) if previous else counted_until
        state.updated_at = utcnow()
    return report


def plan_slabs(per_day: dict[date, int], first: date, last: date, max_rows: int | None = None,
               max_days: int | None = None) -> list[tuple[date, date]]:
    """Consecutive day ranges covering first..last, each of at most `max_days` days and, unless one day alone
    is more, at most `max_rows` requests (per_day: requests per UTC day, days missing = none)."""
    max_rows = max_rows or SLAB_ROWS
    max_days = max_days or SLAB_DAYS
    slabs: list[tuple[date, date]] = []
    lo, rows, day = first, 0, first
    while day <= last:
        n = per_day.get(day, 0)
        if day > lo and ((day - lo).days >= max_days or rows + n > max_rows):
            slabs.append((lo, day - timedelta(days=1)))
            lo, rows = day, 0
        rows += n
        day += timedelta(days=1)
    slabs.append((lo, last))
    return slabs


def _requests_per_day(s: Session, tenant_id: int, first: date, last: date) -> dict[date, int]:
    start, end = store.day_bounds(first, last)
    if s.get_bind().dialect.name == "postgresql":
        day = func.date(func.timezone("UTC", DownloadRequest.ts))
    else:
        day = func.date(DownloadRequest.ts)
    rows = s.execute(select(day, func.count()).where(DownloadRequest.tenant_id == tenant_id,
                                                     DownloadRequest.ts >= start, DownloadRequest.ts < end)
                     .group_by(day)).all()
    return {pd.Timestamp(d).date(): n for d, n in rows}


def _record_counting_days(s: Session, tenant_id: int, first: date, last: date, per_day: dict[date, int],
                          bots_by_day: Counter) -> None:
    """One counting_days row per day first..last (a day without requests too: that is how an import gap shows);
    a recount replaces its days."""
    s.execute(delete(CountingDay).where(CountingDay.tenant_id == tenant_id, CountingDay.day.between(first, last)))
    days = pd.date_range(first, last, freq="D").date
    rows = [{"tenant_id": tenant_id, "day": d, "requests": int(per_day.get(d, 0)),
             "bot_requests": int(bots_by_day.get(d, 0))} for d in days]
    for chunk in range(0, len(rows), 1000):  # multi-row INSERTs: one statement each, no executemany pipeline
        s.execute(insert(CountingDay).values(rows[chunk:chunk + 1000]))


def _utc(moment: datetime) -> datetime:
    """A stored time as aware UTC (SQLite hands times back without their zone)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


@dataclass
class _Slab:
    first: date
    last: date
    counted: Callable[[], SlabCount] | None  # None: no raw requests to count


def _start_slab(s: Session, tenant_id: int, first: date, last: date, episodes: EpisodeIndex, window: str,
                report: CountReport, engine: CountingEngine) -> _Slab:
    """Read the slab's raw requests (with the day before it) and hand them to the engine."""
    start, end = store.day_bounds(first, last)
    lookback = start - timedelta(days=1)  # rolling windows look one day back; those rows only inform dedupe
    raw, dropped_in_sql = read_countable(s, tenant_id, lookback, end, since=start)
    report.requests += sum(dropped_in_sql.values())
    report.dropped.update(dropped_in_sql)
    if not len(raw):
        return _Slab(first, last, None)
    report.requests += int((raw["ts"] >= pd.Timestamp(start)).sum())
    return _Slab(first, last, engine.count(count_partition, raw, episodes, window, pd.Timestamp(start)))


def _finish_slab(s: Session, tenant_id: int, slab: _Slab, report: CountReport) -> date:
    """Write the slab's counted downloads and rollups (replacing its days); returns its last day."""
    if slab.counted is None:
        downloads = pd.DataFrame()
    else:
        counted = slab.counted()
        downloads = counted.downloads.assign(tenant_id=tenant_id)
        report.dropped.update(counted.dropped)
        report.bots_by_day.update(counted.bots_by_day)
    slab.counted = None  # the frames go as soon as they are written
    report.downloads += store.replace_downloads(s, tenant_id, slab.first, slab.last, downloads, rollups=True)
    return slab.last
