"""Crediting matched paths: the seven models run on the path frames of one campaign, credit per touchpoint.

The credit of one exposure (a touchpoint) is the share of its conversion the model gives it; a conversion's
touchpoints sum to 1 under every model.
- first_touch, last_touch, linear, time_decay (half-life: campaign.decay_half_life_days, ages in days before the
  conversion) and position_based (40/20/40) weigh touches by their place and age on the path alone, so they are
  credited per touch (each touch is its own channel in the path frame handed to models.py).
- markov (order 1, or 2 where the campaign asks: campaign.markov_order; fitted on the converted paths and the non-converting households' paths) and shapley credit a
  channel on a path: placements by default, or shows or episodes (`channel`). A channel touched several times on a
  path splits its credit equally over those touches.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from services.models.attribution import CREDIT_MODELS
from services.sponsorship.attribution import models
from services.sponsorship.attribution.markov import markov
from services.sponsorship.attribution.shapley import shapley

logger = logging.getLogger(__name__)

CHANNELS = {"placement": "placement_id", "podcast": "podcast_id", "episode": "episode_id"}
DAY = pd.Timedelta(days=1)


def _offsets(conversion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For touches sorted by conversion: each path's first row, its length, and each touch's position."""
    new = np.r_[True, conversion[1:] != conversion[:-1]] if len(conversion) else np.zeros(0, dtype=bool)
    starts = np.flatnonzero(new)
    lengths = np.diff(np.r_[starts, len(conversion)])
    position = np.arange(len(conversion)) - np.repeat(starts, lengths)
    return starts, lengths, position


def _split(values: np.ndarray, starts: np.ndarray) -> list[tuple]:
    return [tuple(part) for part in np.split(values, starts[1:])] if len(values) else []


def credit_touchpoints(matched: pd.DataFrame, non_converting: pd.DataFrame, half_life_days: float,
                       channel: str = "placement", markov_order: int = 1) -> pd.DataFrame:
    """One credit column per model (CREDIT_MODELS) for each row of `matched` (sorted by conversion then time, as
    matching.match returns it). `non_converting` holds the exposures (key, ts, channel ids) of the
    exposed households that did not convert, for the Markov chain's null journeys."""
    out = pd.DataFrame(index=matched.index, columns=list(CREDIT_MODELS), dtype=float)
    if matched.empty:
        return out
    conversion = matched["conversion"].to_numpy()
    starts, lengths, position = _offsets(conversion)
    path_ids = np.arange(len(starts), dtype=np.int64)
    path_of_touch = np.repeat(path_ids, lengths)
    ages = ((matched["ts"] - matched["exposure_ts"]) / DAY).to_numpy(dtype=float)
    value = matched["value"].to_numpy(dtype=float)[starts]
    by_place = pd.DataFrame({"path_id": path_ids, "channels": [tuple(range(n)) for n in lengths],
                             "touch_times": _split(ages, starts), "conversions": 1.0, "value": value})
    heuristics = {"first_touch": models.first_touch, "last_touch": models.last_touch, "linear": models.linear,
                  "position_based": models.position_based,
                  "time_decay": lambda p: models.time_decay(p, half_life_days)}
    for name, model in heuristics.items():
        credits = model(by_place)
        rows = starts[credits["path_id"].to_numpy(dtype=np.int64)] + credits["channel"].to_numpy(dtype=np.int64)
        column = np.zeros(len(matched))
        column[rows] = credits["credit"].to_numpy(dtype=float)
        out[name] = column

    labels = matched[CHANNELS[channel]].to_numpy()
    converted = pd.DataFrame({"path_id": path_ids, "channels": _split(labels, starts), "conversions": 1.0,
                              "value": value, "nulls": 0.0})
    nulls = _null_paths(non_converting, CHANNELS[channel], first_id=len(path_ids))
    touch_keys = pd.DataFrame({"path_id": path_of_touch, "channel": labels})
    same = touch_keys.groupby(["path_id", "channel"], sort=False)["path_id"].transform("size").to_numpy()
    for name, credits in (("markov", markov(pd.concat([converted, nulls], ignore_index=True), order=markov_order).credits),
                          ("shapley", shapley(converted).credits)):
        per_channel = touch_keys.merge(credits.astype({"channel": labels.dtype}), on=["path_id", "channel"],
                                       how="left")["credit"].fillna(0.0).to_numpy()
        out[name] = per_channel / same
    return out


def _null_paths(exposures: pd.DataFrame, column: str, first_id: int) -> pd.DataFrame:
    """The non-converting households' paths, identical paths folded into one row with `nulls` = their number."""
    if exposures.empty:
        return pd.DataFrame(columns=["path_id", "channels", "conversions", "value", "nulls"])
    ordered = exposures.sort_values(["key", "ts", "placement_id"], kind="stable")
    keys = ordered["key"].to_numpy()
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    paths = pd.Series(_split(ordered[column].to_numpy(), starts))
    counts = paths.value_counts(sort=False)
    return pd.DataFrame({"path_id": np.arange(first_id, first_id + len(counts), dtype=np.int64),
                         "channels": list(counts.index), "conversions": 0.0, "value": 0.0,
                         "nulls": counts.to_numpy(dtype=float)})
