"""Attribution credit models: ChannelAttribution 2.2.5 reference results, a hand-worked case, and properties."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from services.sponsorship.attribution.markov import absorbing_chain, markov
from services.sponsorship.attribution.models import (
    PathFrameError, channel_totals, explode_touches, first_touch, last_touch, linear, path_frame,
    path_frame_from_strings, position_based, time_decay)
from services.sponsorship.attribution.shapley import shapley

DATA = Path(__file__).resolve().parents[2] / "data" / "attribution"
CA_IDS = {"1": "ep1", "2": "ep2", "3": "promo", "4": "ep3"}  # ChannelAttribution numbers channels as first seen


def reference_paths() -> pd.DataFrame:
    frame = pd.read_csv(DATA / "paths.csv", sep=";")
    return path_frame_from_strings(frame["path"], frame["total_conversions"], frame["total_conversion_value"],
                                   frame["total_null"])


def reference(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name).set_index("channel_name")


def every_model(paths: pd.DataFrame) -> dict[str, pd.DataFrame]:
    credits = {"first": first_touch(paths), "last": last_touch(paths), "linear": linear(paths),
               "position": position_based(paths), "markov1": markov(paths, order=1).credits,
               "markov2": markov(paths, order=2).credits, "shapley": shapley(paths).credits}
    if "touch_times" in paths.columns or paths.empty:  # paths.csv has no touch times
        credits["time_decay"] = time_decay(paths, half_life_days=3.0)
    return credits


# --- ChannelAttribution 2.2.5 on paths.csv ------------------------------------------------------------------------

@pytest.mark.parametrize(("model", "column"), [(first_touch, "first_touch"), (last_touch, "last_touch"),
                                               (linear, "linear_touch")])
def test_heuristics_equal_channel_attribution(model, column):
    paths = reference_paths()
    totals = channel_totals(model(paths), paths).set_index("channel")
    expected = reference("out_heuristic_models.csv")
    assert sorted(totals.index) == sorted(expected.index)
    for channel in expected.index:
        assert totals.at[channel, "conversions"] == pytest.approx(expected.at[channel, f"{column}_conversions"],
                                                                  abs=1e-9)
        assert totals.at[channel, "value"] == pytest.approx(expected.at[channel, f"{column}_value"], abs=1e-9)


def test_markov_order1_matches_the_exact_check():
    result = markov(reference_paths(), order=1)
    expected = reference("out_exact_markov_order1_check.csv")
    effects = result.removal_effects.set_index("channel")["removal_effect"]
    totals = result.channel_totals.set_index("channel")["conversions"]
    assert result.conversion_probability == pytest.approx(15 / 109, rel=1e-12)
    for channel in expected.index:
        # The brief's bound is 2%; the check file has 6 decimals and we match it to its rounding.
        assert effects[channel] == pytest.approx(expected.at[channel, "exact_removal_effect"], rel=0.02, abs=1e-6)
        assert totals[channel] == pytest.approx(expected.at[channel, "exact_markov_conversions"], rel=0.02, abs=1e-6)
    assert totals.sum() == pytest.approx(15.0)


@pytest.mark.parametrize("order", [1, 2])
def test_markov_chain_is_channel_attributions_chain(order):
    """The fitted transition probabilities equal ChannelAttribution's, state for state (incl. order 2's windows)."""
    chain = absorbing_chain(explode_touches(reference_paths(), converted_only=False), order)
    ours = {(f, t): p for f, t, p in chain.transition_frame().itertuples(index=False)}
    theirs = pd.read_csv(DATA / f"out_markov_order{order}_transition_matrix.csv", dtype=str)

    def state(name: str) -> object:
        return name if name.startswith("(") else tuple(CA_IDS[part] for part in name.split(" "))

    expected = {(state(f), state(t)): float(p) for f, t, p in theirs.itertuples(index=False)}
    assert ours.keys() == expected.keys()
    for key, probability in expected.items():
        assert ours[key] == pytest.approx(probability, abs=1e-12)


def test_markov_order2_near_the_simulated_reference():
    """ChannelAttribution simulates, so its figures carry sampling error; ours are exact on the same chain (the test
    above). ep3 is 2.65% off (2.3077 exact against 2.2481 simulated), the others within 1.3%. Run with seeds 0-19,
    ChannelAttribution 2.2.5's order-2 means lie within 0.5% of our figures and ep3's standard deviation is 1.8%,
    so seed 0's ep3 is 1.4 s.d. low (order 1's seed-0 ep1 is likewise 1.85% off the exact check). Three channels
    are held to 2% and ep3 to 3%."""
    totals = markov(reference_paths(), order=2).channel_totals.set_index("channel")["conversions"]
    expected = reference("out_markov_order2_result.csv")["total_conversions"]
    for channel, bound in {"ep1": 0.02, "ep2": 0.02, "promo": 0.02, "ep3": 0.03}.items():
        assert totals[channel] == pytest.approx(expected[channel], rel=bound)
    assert totals.sum() == pytest.approx(15.0)


# --- a hand-worked case -------------------------------------------------------------------------------------------

def households() -> pd.DataFrame:
    # Ages in days before the conversion; half-life 3 days in the time-decay test.
    return path_frame([
        {"path_id": 1, "channels": ("ep1", "ep2", "ep2", "promo"), "touch_times": (9, 6, 3, 0), "value": 60},
        {"path_id": 2, "channels": ("ep2", "promo"), "touch_times": (3, 0), "value": 30},
        {"path_id": 3, "channels": ("promo",), "touch_times": (1.5,), "value": 20},
        {"path_id": 4, "channels": ("ep1", "ep2"), "touch_times": (6, 3), "conversions": 0, "value": 0, "nulls": 2},
    ])


def credit_map(credits: pd.DataFrame) -> dict[tuple[int, str], float]:
    return {(int(p), c): v for p, c, v in credits[["path_id", "channel", "credit"]].itertuples(index=False)}


HAND_WORKED = {
    # first / last touch: the whole conversion to one touch.
    "first": {(1, "ep1"): 1, (2, "ep2"): 1, (3, "promo"): 1},
    "last": {(1, "promo"): 1, (2, "promo"): 1, (3, "promo"): 1},
    # linear, per touch: path 1 has 4 touches, ep2 twice -> ep1 1/4, ep2 2/4, promo 1/4.
    "linear": {(1, "ep1"): 1 / 4, (1, "ep2"): 2 / 4, (1, "promo"): 1 / 4, (2, "ep2"): 1 / 2, (2, "promo"): 1 / 2,
               (3, "promo"): 1},
    # time decay, half-life 3: weights 2^(-age/3). Path 1: ages 9,6,3,0 -> 1/8, 1/4, 1/2, 1 (sum 15/8)
    # -> ep1 1/15, ep2 (2+4)/15 = 2/5, promo 8/15. Path 2: ages 3,0 -> 1/2, 1 (sum 3/2) -> 1/3, 2/3.
    "time_decay": {(1, "ep1"): 1 / 15, (1, "ep2"): 2 / 5, (1, "promo"): 8 / 15, (2, "ep2"): 1 / 3,
                   (2, "promo"): 2 / 3, (3, "promo"): 1},
    # position based: path 1 (4 touches) 0.4 / 0.1 / 0.1 / 0.4 -> ep2 0.2; path 2 (2 touches) 50/50; path 3 100%.
    "position": {(1, "ep1"): 0.4, (1, "ep2"): 0.2, (1, "promo"): 0.4, (2, "ep2"): 0.5, (2, "promo"): 0.5,
                 (3, "promo"): 1},
    # Markov order 1. Journeys: paths 1-3 one converting walk each, path 4 two null walks (5 in all); path 1's
    # repeated ep2 is dropped, so it walks ep1 -> ep2 -> promo.
    #   start -> ep1: 1 + 2 = 3 of 5;  start -> ep2: 1 of 5;  start -> promo: 1 of 5
    #   ep1 -> ep2: 3 of 3;  ep2 -> promo: 2 of 4, ep2 -> (null): 2 of 4;  promo -> (conversion): 3 of 3
    #   P(conv) = 3/5 * 1 * 1/2 + 1/5 * 1/2 + 1/5 = 3/10 + 1/10 + 2/10 = 3/5 (= 3 conversions / 5 walks)
    #   without ep1: 1/5 * 1/2 + 1/5 = 3/10 -> RE 1 - (3/10)/(3/5) = 1/2
    #   without ep2: 1/5 (start -> promo only) -> RE 1 - (1/5)/(3/5) = 2/3
    #   without promo: 0 -> RE 1
    #   sum RE = 13/6; totals 3 * RE / sum: ep1 9/13, ep2 12/13, promo 18/13.
    #   Per path, in proportion to RE over its channels: path 1 1/2 : 2/3 : 1 = 3 : 4 : 6 -> 3/13, 4/13, 6/13;
    #   path 2 2/3 : 1 -> 2/5, 3/5; path 3 promo 1.
    "markov1": {(1, "ep1"): 3 / 13, (1, "ep2"): 4 / 13, (1, "promo"): 6 / 13, (2, "ep2"): 2 / 5,
                (2, "promo"): 3 / 5, (3, "promo"): 1},
    # Shapley, exact (3 channels). Converted sets: {ep1, ep2, promo}, {ep2, promo}, {promo}, one conversion each.
    #   v(promo) = 1, v(ep2, promo) = 2, v(ep1, promo) = 1, v(all) = 3, v = 0 for the rest.
    #   Coalition weights |S|!(n-|S|-1)!/n!: |S| = 0 -> 1/3, 1 -> 1/6, 2 -> 1/3.
    #   ep1:   only S = {ep2, promo} adds (3 - 2 = 1) -> 1/3
    #   ep2:   S = {promo}: 2 - 1 = 1 (x 1/6); S = {ep1, promo}: 3 - 1 = 2 (x 1/3) -> 1/6 + 2/3 = 5/6
    #   promo: {}: 1 (x 1/3); {ep1}: 1 (x 1/6); {ep2}: 2 (x 1/6); {ep1, ep2}: 3 (x 1/3) -> 11/6   (sum 3)
    #   Per path, in proportion to the values: path 1 1/3 : 5/6 : 11/6 = 2 : 5 : 11 -> 1/9, 5/18, 11/18;
    #   path 2 5/6 : 11/6 -> 5/16, 11/16; path 3 promo 1.
    "shapley": {(1, "ep1"): 1 / 9, (1, "ep2"): 5 / 18, (1, "promo"): 11 / 18, (2, "ep2"): 5 / 16,
                (2, "promo"): 11 / 16, (3, "promo"): 1},
}


@pytest.mark.parametrize("model", sorted(HAND_WORKED))
def test_hand_worked_credits(model):
    credits = credit_map(every_model(households())[model])
    # A row for every channel on every converted path (0 where the model gives none); path 4 did not convert.
    on_paths = {(1, "ep1"), (1, "ep2"), (1, "promo"), (2, "ep2"), (2, "promo"), (3, "promo")}
    expected = {key: HAND_WORKED[model].get(key, 0.0) for key in on_paths}
    assert credits.keys() == expected.keys()
    for key, value in expected.items():
        assert credits[key] == pytest.approx(value, abs=1e-12), key


def test_hand_worked_markov_removal_effects_and_totals():
    result = markov(households(), order=1)
    effects = result.removal_effects.set_index("channel")
    assert effects["removal_effect"].to_dict() == pytest.approx({"ep1": 1 / 2, "ep2": 2 / 3, "promo": 1.0})
    # One conversion state (promo), so the value removal effects are the same fractions of 110/5 = 22 per walk.
    assert effects["removal_effect_value"].to_dict() == pytest.approx({"ep1": 1 / 2, "ep2": 2 / 3, "promo": 1.0})
    totals = result.channel_totals.set_index("channel")
    assert totals["conversions"].to_dict() == pytest.approx({"ep1": 9 / 13, "ep2": 12 / 13, "promo": 18 / 13})
    assert totals["value"].to_dict() == pytest.approx({"ep1": 330 / 13, "ep2": 440 / 13, "promo": 660 / 13})
    assert result.conversion_probability == pytest.approx(3 / 5)


def test_hand_worked_shapley_values():
    result = shapley(households())
    totals = result.channel_totals.set_index("channel")
    assert result.method == "exact" and result.max_standard_error == 0
    assert totals["conversions"].to_dict() == pytest.approx({"ep1": 1 / 3, "ep2": 5 / 6, "promo": 11 / 6})
    # Value: 60 split 3 ways, 30 split 2 ways, 20 alone -> ep1 20, ep2 20 + 15, promo 20 + 15 + 20.
    assert totals["value"].to_dict() == pytest.approx({"ep1": 20.0, "ep2": 35.0, "promo": 55.0})


# --- properties ---------------------------------------------------------------------------------------------------

def synthetic_paths(n_paths: int, n_channels: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 7, n_paths)
    return path_frame({"path_id": i, "channels": tuple(int(c) for c in rng.integers(0, n_channels, length)),
                       "touch_times": tuple(float(t) for t in np.sort(rng.uniform(0, 30, length))[::-1]),
                       "conversions": float(rng.random() < 0.4), "value": float(rng.gamma(2.0, 20.0)),
                       "nulls": float(rng.integers(0, 3))} for i, length in enumerate(lengths))


@pytest.mark.parametrize("paths", [reference_paths(), households(), synthetic_paths(400, 12, seed=1)],
                         ids=["reference", "households", "synthetic"])
def test_credits_of_each_converted_path_sum_to_one(paths):
    converted = set(paths.loc[paths["conversions"] > 0, "path_id"])
    for name, credits in every_model(paths).items():
        sums = credits.groupby("path_id")["credit"].sum()
        assert set(sums.index) == converted, name
        np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-12, err_msg=name)
        assert (credits["credit"] >= 0).all(), name


def test_a_single_channel_path_gets_all_the_credit():
    paths = synthetic_paths(300, 8, seed=2)
    paths.loc[0, ["channels", "touch_times", "conversions"]] = pd.Series(
        {"channels": ("solo", "solo"), "touch_times": (4.0, 1.0), "conversions": 1.0})
    for name, credits in every_model(paths).items():
        assert credit_map(credits[credits["path_id"] == 0]) == {(0, "solo"): pytest.approx(1.0)}, name


def test_shapley_samples_above_15_channels_deterministically_with_an_error_bound():
    paths = synthetic_paths(3000, 20, seed=3)
    first, again, other = shapley(paths, seed=7), shapley(paths, seed=7), shapley(paths, seed=8)
    assert first.method == "sampled" and first.seed == 7 and first.permutations > 0
    pd.testing.assert_frame_equal(first.channel_totals, again.channel_totals)
    assert not np.allclose(first.channel_totals["conversions"], other.channel_totals["conversions"])
    totals = first.channel_totals.set_index("channel")
    assert first.max_standard_error == pytest.approx(totals["conversions_se"].max())
    assert 0 < first.max_standard_error < 0.05 * totals["conversions"].mean()
    # This game's exact Shapley value: each converted path split equally over its distinct channels.
    exact: dict[object, float] = {}
    for channels, conversions in paths.loc[paths["conversions"] > 0, ["channels", "conversions"]].itertuples(
            index=False):
        for channel in set(channels):
            exact[channel] = exact.get(channel, 0.0) + conversions / len(set(channels))
    for channel, value in exact.items():
        assert abs(totals.at[channel, "conversions"] - value) < 5 * totals.at[channel, "conversions_se"] + 1e-9


def test_exact_shapley_equals_the_closed_form():
    paths = synthetic_paths(500, 10, seed=4)
    totals = shapley(paths).channel_totals.set_index("channel")
    converted = paths[paths["conversions"] > 0]
    for channel in totals.index:
        share = sum(c / len(set(ch)) for ch, c in zip(converted["channels"], converted["conversions"])
                    if channel in ch)
        assert totals.at[channel, "conversions"] == pytest.approx(share, abs=1e-9)


def test_empty_input_gives_empty_output():
    paths = path_frame([])
    for name, credits in every_model(paths).items():
        assert credits.empty and list(credits.columns) == ["path_id", "channel", "credit"], name
        assert channel_totals(credits, paths).empty, name
    assert markov(paths).removal_effects.empty and shapley(paths).channel_totals.empty


@pytest.mark.parametrize(("record", "problem"), [
    ({"path_id": 41, "channels": ("ep1", "promo"), "touch_times": (2.0,)}, "2 channels but 1 touch_times"),
    ({"path_id": 42, "channels": ("ep1",), "touch_times": (2.0,), "conversions": -1.0}, "negative"),
    ({"path_id": 43, "channels": (), "touch_times": ()}, "non-empty"),
    ({"path_id": 44, "channels": ("ep1",), "touch_times": (-3.0,)}, "touch_times"),
])
def test_bad_input_names_the_path(record, problem):
    good = {"path_id": 1, "channels": ("ep2",), "touch_times": (1.0,)}
    with pytest.raises(ValueError, match=rf"path_id {record['path_id']}: .*{problem}") as raised:
        time_decay(path_frame([good, record]))
    assert isinstance(raised.value, PathFrameError) and raised.value.path_id == record["path_id"]
