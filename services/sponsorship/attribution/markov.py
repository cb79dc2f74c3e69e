"""Markov attribution: removal effects computed exactly (linear algebra, no simulation) from the absorbing chain
fitted to the path frame, as ChannelAttribution's markov_model defines it.

The chain. Each journey walks (start) -> states -> (conversion) or (null). A state is the last `order` channels
of the path (a sliding window over the touches; a path shorter than `order` is one state holding the whole path),
and a state that repeats the one before it is dropped, so at order 1 `ep1 > ep1 > promo` walks ep1 -> promo, while at
order 2 it walks (ep1, ep1) -> (ep1, promo). A path row counts `conversions + nulls` journeys (see models.py);
transition probabilities are those journey counts normalised per state.

Removal effect of channel c: RE_c = 1 - P(conversion | c removed) / P(conversion), where removing c sends every
transition into a state holding c to (null). The value removal effect is the same with each conversion worth the
mean value of the conversions that ended in that state. Channel totals: total conversions * RE_c / sum(RE), and
likewise for value; these are the figures ChannelAttribution reports.

Per-path credits: a converted path's conversions are split over the distinct channels on the path in proportion
to their (conversion) removal effects. They sum to 1 per path, but credits times conversions need not add up to the
channel totals above, which spread conversions by removal effects across all paths.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.sponsorship.attribution.models import Touches, credits_by_channel_weight, explode_touches

logger = logging.getLogger(__name__)

MAX_STATES = 6000  # the exact solve inverts a dense states x states matrix: 6000 states is ~300 MB and seconds


@dataclass(frozen=True)
class AbsorbingChain:
    """The fitted chain over transient states 0..m-1 plus (start) = m, with (conversion) and (null) absorbing."""

    state_channels: np.ndarray  # (m, order) channel codes of each state, -1 where a short path left no channel
    transitions: np.ndarray  # (m+1, m+1) transition probabilities between transient states
    to_conversion: np.ndarray  # (m+1,) probability of converting next
    to_value: np.ndarray  # (m+1,) expected value converted next (probability x mean value of conversions here)
    to_null: np.ndarray  # (m+1,)
    labels: np.ndarray  # channel code -> label

    @property
    def start(self) -> int:
        return len(self.state_channels)

    def transition_frame(self) -> pd.DataFrame:
        """Non-zero transition probabilities as `state_from, state_to, probability` (states as label tuples)."""
        names = [tuple(self.labels[c] for c in row if c >= 0) for row in self.state_channels] + ["(start)"]
        frames = []
        rows, cols = np.nonzero(self.transitions)
        frames.append(pd.DataFrame({"state_from": [names[i] for i in rows], "state_to": [names[j] for j in cols],
                                    "probability": self.transitions[rows, cols]}))
        for name, column in (("(conversion)", self.to_conversion), ("(null)", self.to_null)):
            rows = np.flatnonzero(column)
            frames.append(pd.DataFrame({"state_from": [names[i] for i in rows], "state_to": name,
                                        "probability": column[rows]}))
        return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True)
class MarkovAttribution:
    """Markov model output: per-path credits, per-channel removal effects and channel totals."""

    credits: pd.DataFrame  # path_id, channel, credit
    removal_effects: pd.DataFrame  # channel, removal_effect, removal_effect_value
    channel_totals: pd.DataFrame  # channel, conversions, value
    conversion_probability: float  # P(conversion) from (start)
    order: int


def absorbing_chain(touches: Touches, order: int) -> AbsorbingChain:
    """Fit the order-`order` chain to all paths' touches (converting and not) by counting journeys per transition."""
    paths = touches.paths
    conversions = paths["conversions"].to_numpy()
    # A row with neither conversions nor nulls is one household that did not convert (models.py).
    nulls = np.where((conversions == 0) & (paths["nulls"].to_numpy() == 0), 1.0, paths["nulls"].to_numpy())
    journeys = conversions + nulls
    n_channels = len(touches.labels)
    base, pad = n_channels + 1, n_channels  # state code digits: channel codes, `pad` before a short path's start

    code = np.zeros(len(touches.channel), dtype=np.int64)
    for offset in range(order - 1, -1, -1):
        earlier = np.maximum(np.arange(len(code)) - offset, 0)
        code = code * base + np.where(touches.position >= offset, touches.channel[earlier], pad)
    keep = (touches.position >= order - 1) | ((touches.length < order) & (touches.position == touches.length - 1))
    code, path_row = code[keep], touches.path_row[keep]
    first = np.r_[True, path_row[1:] != path_row[:-1]]
    repeat = ~first & np.r_[False, code[1:] == code[:-1]]
    code, path_row, first = code[~repeat], path_row[~repeat], first[~repeat]

    state, state_codes = pd.factorize(code)
    m = len(state_codes)
    if m + 1 > MAX_STATES:
        raise ValueError(f"the order-{order} chain has {m} states, more than the exact solve allows ({MAX_STATES})")
    size = m + 1
    previous = np.where(first, m, np.r_[0, state[:-1]])
    counts = np.bincount(previous * size + state, weights=journeys[path_row], minlength=size * size)
    counts = counts.reshape(size, size)
    last = np.r_[first[1:], True]
    end_state, end_row = state[last], path_row[last]
    value = np.where(conversions > 0, paths["value"].to_numpy(), 0.0)  # a path that did not convert earned nothing
    converted = np.bincount(end_state, weights=conversions[end_row], minlength=size)
    valued = np.bincount(end_state, weights=value[end_row], minlength=size)
    nulled = np.bincount(end_state, weights=nulls[end_row], minlength=size)
    out = counts.sum(axis=1) + converted + nulled
    out = np.where(out > 0, out, 1.0)

    digits = np.empty((m, order), dtype=np.int64)
    rest = np.asarray(state_codes, dtype=np.int64)
    for j in range(order - 1, -1, -1):
        rest, digits[:, j] = np.divmod(rest, base)
    return AbsorbingChain(state_channels=np.where(digits == pad, -1, digits), transitions=counts / out[:, None],
                          to_conversion=converted / out, to_value=valued / out, to_null=nulled / out,
                          labels=touches.labels)


def removal_effects(chain: AbsorbingChain) -> tuple[np.ndarray, np.ndarray, float]:
    """Conversion and value removal effects per channel code, and P(conversion) from (start).

    With B = (I - Q)^-1 and y = B r (absorption rewards from every state), removing the states R that hold a
    channel leaves y_start - B[start, R] (B[R, R])^-1 y_R: the partitioned-inverse identity for (I - Q) restricted
    to the other states. One inverse serves every channel, instead of one solve of the whole chain per channel.
    """
    n_channels = len(chain.labels)
    size = chain.start + 1
    inverse = np.linalg.inv(np.eye(size) - chain.transitions)
    rewards = inverse @ np.column_stack([chain.to_conversion, chain.to_value])
    base = rewards[chain.start]
    kept = np.empty((n_channels, 2))
    for channel in range(n_channels):
        removed = np.flatnonzero((chain.state_channels == channel).any(axis=1))
        lost = inverse[chain.start, removed] @ np.linalg.solve(inverse[np.ix_(removed, removed)], rewards[removed])
        kept[channel] = base - lost
    with np.errstate(divide="ignore", invalid="ignore"):
        effects = np.where(base > 0, 1.0 - kept / base, 0.0)
    effects = np.clip(effects, 0.0, 1.0)  # rounding can push a tiny effect a hair below 0
    return effects[:, 0], effects[:, 1], float(base[0])


def markov(paths: pd.DataFrame, order: int = 1) -> MarkovAttribution:
    """Markov attribution of order 1 or higher (see the module docstring for the chain and the credit rule)."""
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be a positive integer, not {order!r}")
    touches = explode_touches(paths, converted_only=False)
    if len(touches.channel):
        effect, effect_value, probability = removal_effects(absorbing_chain(touches, order))
    else:
        effect, effect_value, probability = np.zeros(0), np.zeros(0), 0.0
    frame = touches.paths
    totals = pd.DataFrame({"channel": touches.labels,
                           "conversions": _share(effect, frame["conversions"].sum()),
                           "value": _share(effect_value, frame["value"][frame["conversions"] > 0].sum())})
    effects = pd.DataFrame({"channel": touches.labels, "removal_effect": effect, "removal_effect_value": effect_value})
    return MarkovAttribution(credits=credits_by_channel_weight(touches, effect), removal_effects=effects,
                             channel_totals=totals, conversion_probability=probability, order=order)


def _share(effects: np.ndarray, total: float) -> np.ndarray:
    whole = effects.sum()
    return total * effects / whole if whole > 0 else np.zeros_like(effects)
