"""Shapley attribution: each channel's Shapley value in the game where a coalition of channels earns the converted
paths it covers, exact up to 15 channels and sampled by permutations above that.

The game ("simplified Shapley" for attribution): the players are the channels on converted paths, and
v(S) = the conversions (separately: the value) of the converted paths whose SET of channels is a subset of S.
Order and repeats on a path do not matter, and non-converting paths play no part.

Exact (at most `max_exact_channels` channels): v is tabulated over all 2^n coalitions (a subset-sum over bit masks)
and phi_c = sum over S without c of |S|! (n-|S|-1)! / n! * (v(S + c) - v(S)).
Sampled (more channels): phi_c is the mean of c's marginal contribution over `permutations` random orders drawn
with numpy's default_rng(seed), each order taken together with its reverse and with all n rotations of both (every
channel then stands in every position equally often, which removes most of the sampling noise); in one order the
channel of a path that comes last earns the whole path. Each sampled order yields one estimate, and the standard
error (their standard deviation / sqrt(permutations)) is reported beside the mean.

This v is a sum of unanimity games, one per path, so its Shapley value also has a closed form: each path's
conversions split equally over its distinct channels. The tests use that as an independent check; the enumeration
and the sampler stay general so that a different v (say, with interaction terms) only changes the tabulation.

Per-path credits: a converted path's conversions are split over the distinct channels on the path in proportion to
their Shapley values (conversions), so they sum to 1 per path; the channel totals are the Shapley values themselves.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.sponsorship.attribution.models import (Touches, credits_by_channel_weight, explode_touches,
                                                      path_channels)

logger = logging.getLogger(__name__)

MAX_EXACT_CHANNELS = 15
DEFAULT_PERMUTATIONS = 32  # sampled orders, each with its reverse and in all n rotations


@dataclass(frozen=True)
class ShapleyAttribution:
    """Shapley model output: per-path credits and channel totals (the Shapley values) with their standard errors."""

    credits: pd.DataFrame  # path_id, channel, credit
    channel_totals: pd.DataFrame  # channel, conversions, value, conversions_se, value_se (0 when exact)
    method: str  # "exact" or "sampled"
    permutations: int  # orders sampled; 0 when exact
    seed: int | None  # None when exact
    max_standard_error: float  # the largest conversions_se, 0 when exact


def shapley(paths: pd.DataFrame, max_exact_channels: int = MAX_EXACT_CHANNELS,
            permutations: int = DEFAULT_PERMUTATIONS, seed: int = 0) -> ShapleyAttribution:
    """Shapley attribution (see the module docstring for the game, the sampling and the credit rule)."""
    if permutations < 2:
        raise ValueError("permutations must be at least 2, to estimate a standard error")
    touches = explode_touches(paths)
    members, path_of_member, worth = _path_sets(touches)
    n = len(touches.labels)
    if n <= max_exact_channels:
        values, errors = _exact(members, path_of_member, worth, n), np.zeros((n, 2))
        method, drawn, used_seed = "exact", 0, None
    else:
        values, errors = _sampled(members, path_of_member, worth, n, permutations, seed)
        method, drawn, used_seed = "sampled", permutations, seed
    totals = pd.DataFrame({"channel": touches.labels, "conversions": values[:, 0], "value": values[:, 1],
                           "conversions_se": errors[:, 0], "value_se": errors[:, 1]})
    max_error = float(errors[:, 0].max()) if n else 0.0
    logger.debug("shapley %s over %d channels, max standard error %.3g", method, n, max_error)
    return ShapleyAttribution(credits=credits_by_channel_weight(touches, values[:, 0]), channel_totals=totals,
                              method=method, permutations=drawn, seed=used_seed, max_standard_error=max_error)


def _path_sets(touches: Touches) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct channels of each converted path (sorted by path), the path of each, and (conversions, value)."""
    path_of_member, members, _ = path_channels(touches)
    worth = touches.paths[["conversions", "value"]].to_numpy(dtype=float)
    return members, path_of_member, worth


def _exact(members: np.ndarray, path_of_member: np.ndarray, worth: np.ndarray, n: int) -> np.ndarray:
    """Shapley values by enumerating every coalition: (n, 2) for conversions and value."""
    masks = np.bincount(path_of_member, weights=np.left_shift(1, members).astype(float)).astype(np.int64)
    size = 1 << n
    game = np.column_stack([np.bincount(masks, weights=worth[:, k], minlength=size) for k in (0, 1)])
    for bit in range(n):  # subset sums: v(S) = sum of the paths whose set lies inside S
        view = game.reshape(-1, 2, 1 << bit, 2)
        view[:, 1] += view[:, 0]
    popcount = np.zeros(size, dtype=np.int64)
    for bit in range(n):
        popcount += (np.arange(size) >> bit) & 1
    weight = np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)])
    values = np.empty((n, 2))
    for bit in range(n):
        view = game.reshape(-1, 2, 1 << bit, 2)
        without = popcount.reshape(-1, 2, 1 << bit)[:, 0]
        values[bit] = (weight[without][..., None] * (view[:, 1] - view[:, 0])).sum(axis=(0, 1))
    return values


def _sampled(members: np.ndarray, path_of_member: np.ndarray, worth: np.ndarray, n: int, permutations: int,
             seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean marginal contributions over random orders, each taken with its reverse and in all n rotations of both;
    standard errors from the spread between the sampled orders. Two (n, 2) arrays.

    In one order the path's channel that comes last earns the whole path. Over the n rotations of an order, a
    path's channel at position r wins in as many rotations as there are positions from r up to the path's next
    channel (cyclically), so one sort per order stands for all n rotations. The reverse order hands each channel
    the gap behind it instead, which cancels most of an order's luck (for a two-channel path, exactly).
    """
    rng = np.random.default_rng(seed)
    path_start = np.flatnonzero(np.r_[True, path_of_member[1:] != path_of_member[:-1]])
    path_end = np.r_[path_start[1:], len(members)] - 1
    key_type = np.int32 if (path_of_member[-1] + 1) * n < 2**31 else np.int64  # a narrower sort is faster
    path_key = (path_of_member * n).astype(key_type)
    weight = worth[path_of_member] / n

    def earned(order: np.ndarray) -> np.ndarray:
        position = np.sort(path_key + np.argsort(order).astype(key_type)[members]) % n  # each path's, in order
        following = np.roll(position, -1)
        following[path_end] = position[path_start] + n  # the last one wraps round to the first
        gap, channel = following - position, order[position]
        return np.column_stack([np.bincount(channel, weights=gap * weight[:, k], minlength=n) for k in (0, 1)])

    sums, squares = np.zeros((n, 2)), np.zeros((n, 2))
    for _ in range(permutations):  # one order at a time: its arrays stay in cache, faster than a batch
        order = rng.permutation(n)
        sample = (earned(order) + earned(order[::-1])) / 2
        sums += sample
        squares += sample ** 2
    mean = sums / permutations
    variance = np.maximum(squares / permutations - mean ** 2, 0.0) * permutations / (permutations - 1)
    return mean, np.sqrt(variance / permutations)
