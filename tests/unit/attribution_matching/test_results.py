"""The hand-worked case end to end on SQLite: matched touchpoints, credit per placement under each model (worked
out by hand below), counts, idempotency. The scenario's table is in scenario.py."""
from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from services.models import Campaign
from services.models.attribution import CREDIT_MODELS, AttributionDaily, AttributionRun, AttributionTouchpoint
from services.sponsorship.attribution import report
from services.sponsorship.attribution.results import attribute_campaign
from tests.unit.attribution_matching import scenario
from tests.unit.attribution_matching.scenario import at


def _touchpoints(db, sc) -> pd.DataFrame:
    with db.session(sc.tenant_id) as s:
        rows = s.execute(select(AttributionTouchpoint.__table__).where(
            AttributionTouchpoint.campaign_id == sc.campaign_id)
            .order_by(AttributionTouchpoint.event_id, AttributionTouchpoint.touch)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows])


def _utc(series):
    return pd.to_datetime(series, utc=True)


def test_matched_touchpoints_follow_the_rules(db, brew):
    outcome = attribute_campaign(db, brew.tenant_id, brew.campaign_id)
    tp = _touchpoints(db, brew)
    # h1: both exposures (the conversion carries h1 as household_key_prev: the epoch rolled over).
    # h2: the 06-01 exposure is 14 days before the conversion, outside the 7-day lookback.
    # h3, h4: prior customers (exclude_prior_customers); the shared-IP purchase and the promo code match nothing.
    assert list(zip(tp["event_id"], tp["touch"], tp["placement_id"])) == [
        ("h1-buy", 0, brew.pa), ("h1-buy", 1, brew.pb),
        ("h2-buy", 0, brew.pa), ("h2-buy", 1, brew.pb), ("h2-buy", 2, brew.pa)]
    assert list(_utc(tp["exposure_ts"])) == [at(6, 2, 10), at(6, 5, 10), at(6, 10, 9), at(6, 12, 9), at(6, 14, 9)]
    assert list(tp["days_since_exposure"]) == [4.0, 1.0, 5.0, 3.0, 1.0]
    assert list(tp["household_key"]) == ["h1", "h1", "h2", "h2", "h2"]
    assert list(tp["value"]) == [50.0, 50.0, 30.0, 30.0, 30.0]
    assert outcome.conversions == 2 and outcome.touchpoints == 5


def test_credit_per_placement_worked_by_hand(db, brew):
    attribute_campaign(db, brew.tenant_id, brew.campaign_id)
    tp = _touchpoints(db, brew)
    by = tp.groupby("placement_id")[list(CREDIT_MODELS)].sum()
    pa, pb = by.loc[brew.pa], by.loc[brew.pb]
    # Paths: h1 = PA(4 days before) > PB(1); h2 = PA(5) > PB(3) > PA(1).
    # first touch: PA opens both paths.
    assert (pa["first_touch"], pb["first_touch"]) == pytest.approx((2.0, 0.0))
    # last touch: h1 ends on PB, h2 on PA.
    assert (pa["last_touch"], pb["last_touch"]) == pytest.approx((1.0, 1.0))
    # linear: h1 1/2 + 1/2; h2 1/3 each, PA twice: PA = 1/2 + 2/3 = 7/6, PB = 1/2 + 1/3 = 5/6.
    assert (pa["linear"], pb["linear"]) == pytest.approx((7 / 6, 5 / 6))
    # position based: two touches split 50/50; three give 40% first, 20% middle, 40% last: PA = .5 + .8, PB = .5 + .2.
    assert (pa["position_based"], pb["position_based"]) == pytest.approx((1.3, 0.7))
    # time decay, half-life 7 days: weight 2^(-age/7), normalised per path.
    #   h1: PA = 2^(-4/7) / (2^(-4/7) + 2^(-1/7)) = 1 / (1 + 2^(3/7)) = 0.42628
    #   h2: PA = (2^(-5/7) + 2^(-1/7)) / (2^(-5/7) + 2^(-3/7) + 2^(-1/7)) = 0.67098
    w = lambda age: 2 ** (-age / 7)  # noqa: E731
    h1_pa = w(4) / (w(4) + w(1))
    h2_pa = (w(5) + w(1)) / (w(5) + w(3) + w(1))
    assert h1_pa == pytest.approx(0.42628, abs=1e-5) and h2_pa == pytest.approx(0.67098, abs=1e-5)
    assert (pa["time_decay"], pb["time_decay"]) == pytest.approx((h1_pa + h2_pa, 2 - h1_pa - h2_pa))
    # Markov and Shapley: every conversion's credits sum to 1, so the totals are the 2 conversions.
    for model in ("markov", "shapley"):
        assert by[model].sum() == pytest.approx(2.0)
        assert tp.groupby("event_id")[model].sum().tolist() == pytest.approx([1.0, 1.0])
        assert (tp[model] >= 0).all()


def test_counts_promo_codes_visitors_and_usable_ip_share(db, brew):
    c = attribute_campaign(db, brew.tenant_id, brew.campaign_id).counts
    assert (c["conversions"], c["revenue"], c["purchases"]) == (2, 80.0, 2)
    # h6's promo-code purchase: the campaign's, though h6 was never exposed; it is outside the modelled credit.
    assert (c["promo_code_conversions"], c["promo_code_only_conversions"], c["promo_code_only_revenue"]) == (1, 1, 40.0)
    assert c["households_reached"] == 2 and c["prior_customers_excluded"] == 2  # h1, h2 stay; h3, h4 are prior
    assert c["visitors"] == 1  # h1's pageview a few hours after an exposure
    # Conversions in the window (06-01 .. 07-07): 7, one of them from a shared IP.
    assert c["window_conversions"] == 7 and c["usable_ip_share"] == pytest.approx(6 / 7)
    assert c["usable_ip_warning"] is False
    assert c["lift"]["enough_data"] is False and "too few" in c["lift"]["message"]
    # Control: c1 and c2 heard show A's unplaced episode; c1 signed up two days later.
    assert (c["lift"]["control_households"], c["lift"]["control_converters"]) == (2, 1)


def test_without_prior_exclusion_a_conversion_before_the_first_exposure_still_does_not_match(db):
    sc = scenario.build(db, slug="brew-all", exclude_prior=False)
    attribute_campaign(db, sc.tenant_id, sc.campaign_id)
    tp = _touchpoints(db, sc)
    # h3's 06-06 purchase now matches its 06-04 exposure; h4's 06-03 purchase came before its only exposure.
    assert sorted(tp["event_id"].unique()) == ["h1-buy", "h2-buy", "h3-buy"]
    assert tp.loc[tp["event_id"] == "h3-buy", "placement_id"].tolist() == [sc.pa]


def test_running_twice_gives_the_same_rows(db, brew):
    attribute_campaign(db, brew.tenant_id, brew.campaign_id)
    first = _touchpoints(db, brew)
    attribute_campaign(db, brew.tenant_id, brew.campaign_id)
    second = _touchpoints(db, brew)
    pd.testing.assert_frame_equal(first, second)
    with db.session(brew.tenant_id) as s:
        runs = s.scalars(select(AttributionRun).where(AttributionRun.campaign_id == brew.campaign_id)).all()
    assert [r.status for r in runs] == ["finished", "finished"] and all(r.touchpoints == 5 for r in runs)


def test_channels_by_show_change_only_markov_and_shapley(db, brew):
    attribute_campaign(db, brew.tenant_id, brew.campaign_id)
    by_placement = _touchpoints(db, brew)
    attribute_campaign(db, brew.tenant_id, brew.campaign_id, channel="podcast")
    by_show = _touchpoints(db, brew)
    heuristics = ["first_touch", "last_touch", "linear", "time_decay", "position_based"]
    pd.testing.assert_frame_equal(by_placement[heuristics], by_show[heuristics])
    assert by_show.groupby("event_id")["shapley"].sum().tolist() == pytest.approx([1.0, 1.0])


def _daily(db, sc) -> pd.DataFrame:
    with db.session(sc.tenant_id) as s:
        rows = s.execute(select(AttributionDaily.__table__).where(AttributionDaily.campaign_id == sc.campaign_id)
                         ).mappings().all()
    keys = ["day", "placement_id", "episode_id", "lag_days"]
    frame = pd.DataFrame([dict(r) for r in rows])
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame.sort_values(keys).reset_index(drop=True)


def test_the_rollup_sums_the_touchpoints_by_day_placement_episode_and_whole_days_since_exposure(db, brew):
    """The report reads attribution_daily only: it must hold exactly the touchpoints' sums, once, after every run."""
    for _ in range(2):
        attribute_campaign(db, brew.tenant_id, brew.campaign_id)
        tp = _touchpoints(db, brew)
        tp["day"] = _utc(tp["conversion_ts"]).dt.date
        tp["lag_days"] = tp["days_since_exposure"].astype(float).apply(int)
        for model in CREDIT_MODELS:
            tp[model + "_revenue"] = tp[model] * tp["value"]
        keys = ["day", "placement_id", "episode_id", "lag_days"]
        sums = [*CREDIT_MODELS, *(m + "_revenue" for m in CREDIT_MODELS)]
        expected = tp.groupby(keys)[sums].sum().reset_index()
        got = _daily(db, brew)
        assert len(got) == len(expected) == 5  # the five touchpoints differ in day or lag (4, 1, 5, 3, 1 days)
        pd.testing.assert_frame_equal(got[keys + sums], expected[keys + sums], check_dtype=False)


def test_markov_of_order_two_where_the_campaign_asks(db, brew):
    with db.session(brew.tenant_id) as s:
        s.get(Campaign, brew.campaign_id).markov_order = 2
        s.commit()
    outcome = attribute_campaign(db, brew.tenant_id, brew.campaign_id)
    assert outcome.counts["markov_order"] == 2
    tp = _touchpoints(db, brew)
    assert tp.groupby("event_id")["markov"].sum().tolist() == pytest.approx([1.0, 1.0])
    summary = report.summarise(outcome.counts, 100.0, None)
    assert summary["markov_order"] == 2
    assert report.model_label("markov", summary) == "Markov (removal effect, order 2)"
    assert report.model_label("markov", {"markov_order": 1}) == "Markov (removal effect)"
