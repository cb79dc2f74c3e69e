"""Attribution credit models over path frames: the path-frame contract and the heuristic models (first, last,
linear, time decay, position based). Markov and Shapley live in `markov.py` and `shapley.py`.

A path frame is a DataFrame with one row per conversion path (a household's touches, in time order):

| column        | type                     | meaning                                                                   |
|---------------|--------------------------|---------------------------------------------------------------------------|
| `path_id`     | int, unique              | the path's id; credits are keyed by it                                    |
| `channels`    | tuple of str or int      | channel labels in time order of the touches, at least one, may repeat     |
| `touch_times` | tuple of float, optional | age of each touch in days before the conversion (>= 0); time decay only   |
| `conversions` | float >= 0               | conversions of this path (usually 1.0; 0.0 for a household that did not) |
| `value`       | float                    | revenue of those conversions                                              |
| `nulls`       | float >= 0, optional     | non-converting journeys along the same path (default 0)                   |

A row counts as `conversions + nulls` journeys. A row with conversions 0 and nulls 0 is one household that was
exposed and did not convert, so it counts as one null journey (the Markov model is the only one that uses them).

Every model gives credits: one row per (path_id, channel) for each channel on each converted path (conversions > 0)
with `credit`, the fraction of that path's conversions the channel earns (0 is possible, as under first touch), so
credits of different models line up on (path_id, channel); a converted path's credits sum to 1.
`channel_totals(credits, paths)` turns credits into per-channel `conversions` and `value`.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import chain

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

CREDIT_COLUMNS = ["path_id", "channel", "credit"]
TOTAL_COLUMNS = ["channel", "conversions", "value"]
POSITION_FIRST, POSITION_LAST = 0.4, 0.4  # position based: the middle touches share what is left (0.2)


class PathFrameError(ValueError):
    """A path frame row that breaks the contract; names the path."""

    def __init__(self, path_id: object, problem: str):
        super().__init__(f"path_id {path_id}: {problem}")
        self.path_id = path_id


@dataclass(frozen=True)
class Touches:
    """A path frame exploded into touches, in path order then time order (arrays are one entry per touch)."""

    path_row: np.ndarray  # row of the path in `paths` (0..n_paths-1)
    channel: np.ndarray  # channel code; `labels[code]` is the channel label
    position: np.ndarray  # 0 for the first touch of its path
    length: np.ndarray  # touches on the path
    labels: np.ndarray
    paths: pd.DataFrame  # the (validated) paths the touches came from, one row per path_row

    @property
    def starts(self) -> np.ndarray:
        """Index of each path's first touch."""
        return np.flatnonzero(self.position == 0)


def path_frame(records: Iterable[Mapping]) -> pd.DataFrame:
    """A validated path frame from dicts with the columns above (`path_id` defaults to the record's position)."""
    rows = []
    for i, record in enumerate(records):
        row = {"path_id": record.get("path_id", i), "channels": tuple(record["channels"]),
               "conversions": float(record.get("conversions", 1.0)), "value": float(record.get("value", 0.0)),
               "nulls": float(record.get("nulls", 0.0))}
        if record.get("touch_times") is not None:
            row["touch_times"] = tuple(float(t) for t in record["touch_times"])
        rows.append(row)
    columns = ["path_id", "channels", "touch_times", "conversions", "value", "nulls"]
    frame = pd.DataFrame(rows, columns=columns if any("touch_times" in r for r in rows) else
                         [c for c in columns if c != "touch_times"])
    return validate_paths(frame)


def path_frame_from_strings(journeys: Iterable[str], conversions: Iterable[float], value: Iterable[float],
                            nulls: Iterable[float] | None = None, sep: str = ">") -> pd.DataFrame:
    """A path frame from ChannelAttribution-style journeys (`"ep1 > ep2 > promo"`); no touch times."""
    channels = [tuple(part.strip() for part in journey.split(sep) if part.strip()) for journey in journeys]
    frame = pd.DataFrame({"path_id": np.arange(len(channels), dtype=np.int64), "channels": channels,
                          "conversions": np.asarray(list(conversions), dtype=float),
                          "value": np.asarray(list(value), dtype=float)})
    frame["nulls"] = 0.0 if nulls is None else np.asarray(list(nulls), dtype=float)
    return validate_paths(frame)


def validate_paths(paths: pd.DataFrame) -> pd.DataFrame:
    """The path frame with `nulls` filled in and numbers as floats; raises PathFrameError naming the first bad path."""
    missing = {"path_id", "channels", "conversions", "value"} - set(paths.columns)
    if missing:
        raise ValueError(f"path frame lacks columns: {', '.join(sorted(missing))}")
    frame = paths.reset_index(drop=True).copy()
    if "nulls" not in frame.columns:
        frame["nulls"] = 0.0
    for column in ("conversions", "value", "nulls"):
        frame[column] = frame[column].astype(float)
    ids = frame["path_id"]
    lengths = frame["channels"].map(lambda c: len(c) if isinstance(c, (tuple, list)) else -1).to_numpy()
    _reject(ids, lengths < 1, "channels must be a non-empty tuple of channel labels")
    if "touch_times" in frame.columns:
        times = frame["touch_times"].map(lambda t: len(t) if isinstance(t, (tuple, list)) else -1).to_numpy()
        bad = times != lengths
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise PathFrameError(ids.iat[row], f"{lengths[row]} channels but {times[row]} touch_times")
    numbers = frame[["conversions", "value", "nulls"]].to_numpy()
    _reject(ids, ~np.isfinite(numbers).all(axis=1), "conversions, value and nulls must be finite numbers")
    _reject(ids, frame["conversions"].to_numpy() < 0, "conversions must not be negative")
    _reject(ids, frame["nulls"].to_numpy() < 0, "nulls must not be negative")
    _reject(ids, ids.duplicated().to_numpy(), "path_id is not unique")
    return frame


def _reject(ids: pd.Series, bad: np.ndarray, problem: str) -> None:
    if bad.any():
        raise PathFrameError(ids.iat[int(np.flatnonzero(bad)[0])], problem)


def explode_touches(paths: pd.DataFrame, *, converted_only: bool = True) -> Touches:
    """The touches of the (converted) paths, with channel codes in order of first appearance."""
    frame = validate_paths(paths)
    if converted_only:
        frame = frame[frame["conversions"].to_numpy() > 0].reset_index(drop=True)
    lengths = frame["channels"].map(len).to_numpy(dtype=np.int64)
    codes, labels = pd.factorize(pd.Series(list(chain.from_iterable(frame["channels"])), dtype=object))
    starts = np.cumsum(lengths) - lengths
    path_row = np.repeat(np.arange(len(frame), dtype=np.int64), lengths)
    position = np.arange(len(codes), dtype=np.int64) - starts[path_row]
    return Touches(path_row=path_row, channel=codes.astype(np.int64), position=position,
                   length=lengths[path_row], labels=np.asarray(labels, dtype=object), paths=frame)


def path_channels(touches: Touches, converted_only: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (path_row, channel) pairs of the touches, sorted by path then channel code, and for each touch
    the index of its pair. (np.unique's hash path is several times slower here than a stable argsort.)"""
    n_channels = max(len(touches.labels), 1)
    keys = touches.path_row * n_channels + touches.channel
    if converted_only:
        keys = keys[touches.paths["conversions"].to_numpy()[touches.path_row] > 0]
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    new = np.r_[True, ordered[1:] != ordered[:-1]] if len(keys) else np.zeros(0, dtype=bool)
    pair = np.empty(len(keys), dtype=np.int64)
    pair[order] = np.cumsum(new) - 1
    path_row, channel = np.divmod(ordered[new], n_channels)
    return path_row, channel, pair


def credits_from_weights(touches: Touches, weights: np.ndarray) -> pd.DataFrame:
    """Credits from per-touch weights that already sum to 1 per path: a channel's touches on a path add up."""
    path_row, channel, pair = path_channels(touches)
    return pd.DataFrame({"path_id": touches.paths["path_id"].to_numpy()[path_row], "channel": touches.labels[channel],
                         "credit": np.bincount(pair, weights=weights, minlength=len(path_row))})


def credits_by_channel_weight(touches: Touches, weight: np.ndarray) -> pd.DataFrame:
    """Each converted path split over its distinct channels in proportion to `weight[channel]` (equal if all 0)."""
    path_row, channel, _ = path_channels(touches, converted_only=True)
    share = weight[channel] if len(weight) else np.zeros(0)
    first = np.r_[True, path_row[1:] != path_row[:-1]] if len(path_row) else np.zeros(0, dtype=bool)
    group = np.cumsum(first) - 1
    total = np.bincount(group, weights=share)[group] if len(group) else share
    count = np.bincount(group)[group] if len(group) else share
    credit = np.where(total > 0, share / np.where(total > 0, total, 1.0), 1.0 / np.maximum(count, 1))
    return pd.DataFrame({"path_id": touches.paths["path_id"].to_numpy()[path_row],
                         "channel": touches.labels[channel], "credit": credit})


def channel_totals(credits: pd.DataFrame, paths: pd.DataFrame) -> pd.DataFrame:
    """Per-channel attributed `conversions` and `value`: each credit times its path's conversions and value."""
    if credits.empty:
        return pd.DataFrame({"channel": pd.Series(dtype=object), "conversions": pd.Series(dtype=float),
                             "value": pd.Series(dtype=float)})
    amounts = paths.set_index("path_id")[["conversions", "value"]]
    rows = amounts.reindex(credits["path_id"].to_numpy()).to_numpy()
    frame = pd.DataFrame({"channel": credits["channel"].to_numpy(),
                          "conversions": credits["credit"].to_numpy() * rows[:, 0],
                          "value": credits["credit"].to_numpy() * rows[:, 1]})
    return frame.groupby("channel", sort=False).sum().reset_index()


def first_touch(paths: pd.DataFrame) -> pd.DataFrame:
    """All credit to the path's first touch."""
    touches = explode_touches(paths)
    return credits_from_weights(touches, (touches.position == 0).astype(float))


def last_touch(paths: pd.DataFrame) -> pd.DataFrame:
    """All credit to the path's last touch."""
    touches = explode_touches(paths)
    return credits_from_weights(touches, (touches.position == touches.length - 1).astype(float))


def linear(paths: pd.DataFrame) -> pd.DataFrame:
    """Equal credit per touch, so a channel touched twice earns twice (ChannelAttribution's linear model)."""
    touches = explode_touches(paths)
    return credits_from_weights(touches, 1.0 / touches.length)


def time_decay(paths: pd.DataFrame, half_life_days: float = 7.0) -> pd.DataFrame:
    """Each touch weighs 2^(-age / half_life_days), normalised per path: a touch a half-life older earns half."""
    if not (half_life_days > 0 and math.isfinite(half_life_days)):
        raise ValueError(f"half_life_days must be a positive number, not {half_life_days}")
    touches = explode_touches(paths)
    if len(touches.channel) and "touch_times" not in touches.paths.columns:
        raise ValueError("time decay needs the touch_times column")
    times = touches.paths["touch_times"] if len(touches.channel) else []
    ages = np.fromiter(chain.from_iterable(times), dtype=float, count=len(touches.channel))
    bad = ~np.isfinite(ages) | (ages < 0)
    if bad.any():
        row = touches.path_row[np.flatnonzero(bad)[0]]
        raise PathFrameError(touches.paths["path_id"].iat[row], "touch_times must be finite ages >= 0 days")
    if not len(ages):
        return credits_from_weights(touches, ages)  # no converted paths: empty credits
    # Shift by each path's youngest touch before exponentiating, so very old paths don't underflow to 0/0.
    youngest = np.minimum.reduceat(ages, touches.starts)
    weights = np.exp2(-(ages - youngest[touches.path_row]) / half_life_days)
    return credits_from_weights(touches, weights / np.bincount(touches.path_row, weights=weights)[touches.path_row])


def position_based(paths: pd.DataFrame) -> pd.DataFrame:
    """40% to the first touch, 40% to the last, the middle touches share 20%; two touches 50/50; one touch 100%."""
    touches = explode_touches(paths)
    length, position = touches.length, touches.position
    middle = (1.0 - POSITION_FIRST - POSITION_LAST) / np.maximum(length - 2, 1)
    weights = np.where(position == 0, POSITION_FIRST, np.where(position == length - 1, POSITION_LAST, middle))
    weights = np.where(length == 2, 0.5, np.where(length == 1, 1.0, weights))
    return credits_from_weights(touches, weights)
