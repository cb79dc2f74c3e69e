"""The IAB v2.3 counting rules on a frame of raw requests: drop what is not a download (method, status, probe
ranges, bots), map URLs to episodes, apply the one-minute byte threshold, and dedupe per listener and episode in the
tenant's window. Pure pandas on what it is handed (EpisodeIndex.load is its one read): count_partition runs in this
process or, with a Dask engine, on workers (engines.py), which import it from here."""
from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.frames import frame_of
from services.measurement.engines import SlabCount
from services.measurement.requests import PLAIN_PROBES, is_probe_range
from services.measurement.urls import try_enclosure_match_key
from services.measurement.useragents import default_classifier
from services.models import Episode

logger = logging.getLogger(__name__)

THRESHOLD_SECONDS = 60  # IAB: at least one minute of audio must be delivered
PROBE_RANGE = r"\s*bytes=(?:0-0|0-1|1-1)\s*"
RANGE_START = r"^\s*bytes=(\d{1,20})-(\d{0,20})\s*(?:,|$)"


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
        frame = frame_of(rows, ["episode_id", "podcast_id", "match_key", "url", "length", "duration"])
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
