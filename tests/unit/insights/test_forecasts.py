"""The forecasts on series built by hand, with answers known in advance: launch curves scaled by an episode's early
days, a show's weekday pattern and release bumps, the release calendar, and a campaign's delivery with its interval
and the probability of reaching the goal."""
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from services.insights import backtest, forecasts as fc

BASE = np.array([100.0 * (1 - 0.8 ** d) / 0.2 for d in range(1, 91)])  # cumulative: 100, 180, 244, ... -> 500


def test_launch_matrix_is_cumulative_by_day_since_release_and_empty_where_not_reached():
    released = {7: date(2026, 6, 1), 8: date(2026, 6, 10)}
    rows = pd.DataFrame({"episode_id": [7, 7, 7, 8, 8], "day": [date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 5),
                                                               date(2026, 6, 10), date(2026, 6, 11)],
                         "downloads": [10, 5, 1, 20, 4]})
    matrix = fc.launch_matrix(rows, released, as_of=date(2026, 6, 11))
    assert list(matrix.index) == [7, 8]
    assert list(matrix.loc[7, [1, 2, 3, 4, 5, 11]]) == [10, 15, 15, 15, 16, 16]
    assert list(matrix.loc[8, [1, 2]]) == [20, 24] and matrix.loc[8, 3:].isna().all()  # day 3 not over yet


def test_a_launch_is_the_shows_curve_scaled_by_the_episodes_own_days():
    past = np.vstack([BASE * k for k in (0.5, 1.0, 1.5, 2.0, 3.0)])  # one shape, different sizes
    observed = 2 * BASE[:3]  # this episode runs at twice the base
    points = {p.step: p for p in fc.launch_curve_forecast(past, observed, released=date(2026, 6, 1))}
    assert [points[d].observed for d in (1, 3, 4)] == [True, True, False]
    assert points[3].downloads == points[3].lower == points[3].upper == 2 * BASE[2]
    for day in (7, 30, 90):  # every past episode had the same ratio C(day) / C(3): no spread
        assert points[day].downloads == pytest.approx(2 * BASE[day - 1], rel=0.01)
        assert points[day].upper - points[day].lower < 0.02 * points[day].downloads
    assert points[30].day == date(2026, 6, 30)


def test_a_launch_before_its_first_day_is_the_shows_median_with_the_spread_of_its_launches():
    past = np.vstack([BASE * k for k in (0.5, 0.8, 1.0, 1.25, 2.0)])
    points = {p.step: p for p in fc.launch_curve_forecast(past, np.array([]))}
    assert points[7].downloads == pytest.approx(BASE[6], rel=0.01)  # the median episode
    assert points[7].lower < 0.8 * BASE[6] and points[7].upper > 1.25 * BASE[6]
    assert np.allclose(fc.median_launch_curve(past), BASE)


def test_a_launch_interval_widens_with_the_spread_of_past_ratios():
    rng = np.random.default_rng(1)
    past = np.vstack([BASE * np.r_[np.ones(3), np.full(87, g)] for g in rng.lognormal(0, 0.2, 20)])
    point = {p.step: p for p in fc.launch_curve_forecast(past, BASE[:3])}[30]
    assert point.lower < BASE[29] < point.upper  # the typical episode is inside
    assert 0.1 < np.log(point.upper / point.lower) / (2 * fc.Z80) < 0.35  # about the 0.2 spread of the ratios


def test_t_quantile_matches_the_table():
    assert fc.t_quantile_90(5) == pytest.approx(1.476, abs=0.01)
    assert fc.t_quantile_90(10) == pytest.approx(1.372, abs=0.005)
    assert fc.t_quantile_90(1000) == pytest.approx(fc.Z80, abs=0.001)


WEEKDAY = np.array([1.2, 1.1, 1.0, 1.0, 0.9, 0.5, 0.4])  # Monday .. Sunday


def _show(days: int, release_every: int, bump: float = 1.0, level: float = 200.0):
    """A show with an exact weekday pattern and, every `release_every` days, a release that doubles the day (bump)
    and adds half of that the next day; no noise."""
    end = date(2026, 6, 14)  # a Sunday
    index = pd.date_range(end - timedelta(days=days - 1), end)
    releases = [d.date() for d in index[::release_every]]
    values = []
    for d in index:
        age = min(((d.date() - r).days for r in releases if r <= d.date()), default=99)
        values.append(level * WEEKDAY[d.weekday()] * (1 + bump * (age == 0) + bump / 2 * (age == 1)))
    return pd.Series(values, index=index.date), releases, end


def test_a_show_forecast_keeps_the_weekday_pattern():
    daily, _, end = _show(112, 1000)  # one release at the start, long faded
    points = fc.show_forecast(daily, [], [], end, horizon=14)
    got = np.array([p.downloads for p in points[:7]])  # Monday .. Sunday
    assert got == pytest.approx(200 * WEEKDAY, rel=0.03)
    assert all(p.lower <= p.downloads <= p.upper for p in points)
    assert points[0].day == end + timedelta(days=1)


def test_a_show_forecast_puts_the_release_bump_on_release_days():
    daily, releases, end = _show(112, 10)
    upcoming = fc.expected_releases(releases, end, end + timedelta(days=28))
    assert upcoming[0] == releases[-1] + timedelta(days=10)
    points = {p.day: p for p in fc.show_forecast(daily, releases, upcoming, end, horizon=28)}
    release = upcoming[0]
    plain = 200 * WEEKDAY[release.weekday()]
    assert points[release].downloads == pytest.approx(2 * plain, rel=0.1)
    after = release + timedelta(days=1)
    assert points[after].downloads == pytest.approx(1.5 * 200 * WEEKDAY[after.weekday()], rel=0.1)


def test_too_little_history_is_the_mean_day_with_a_wide_interval():
    daily = pd.Series([10.0, 30.0], index=[date(2026, 6, 13), date(2026, 6, 14)])
    points = fc.show_forecast(daily, [], [], date(2026, 6, 14), horizon=3)
    assert [p.downloads for p in points] == [20.0, 20.0, 20.0]
    assert points[0].lower < 12 and points[0].upper > 33


def test_release_calendar_weekly_twice_weekly_and_paused():
    weekly = [date(2026, 6, d) for d in (1, 8, 15)]
    assert fc.expected_releases(weekly, date(2026, 6, 15), date(2026, 7, 6)) == [
        date(2026, 6, 22), date(2026, 6, 29), date(2026, 7, 6)]
    mon_thu = [date(2026, 5, 18) + timedelta(days=7 * w + k) for w in range(4) for k in (0, 3)]  # Mondays, Thursdays
    got = fc.expected_releases(mon_thu, date(2026, 6, 14), date(2026, 6, 28))
    assert got == [date(2026, 6, 15), date(2026, 6, 18), date(2026, 6, 22), date(2026, 6, 25)]
    assert fc.expected_releases(weekly, date(2026, 8, 15), date(2026, 9, 1)) == []  # no release for two months
    assert fc.expected_releases(weekly[:1], date(2026, 6, 15), date(2026, 7, 6)) == []


def test_seasonal_naive_repeats_the_last_week():
    daily = pd.Series(np.arange(1.0, 15.0), index=pd.date_range(date(2026, 6, 1), periods=14).date)
    assert list(fc.seasonal_naive(daily, date(2026, 6, 14), 9)) == [8, 9, 10, 11, 12, 13, 14, 8, 9]


def _points(values, first=date(2026, 6, 15), sd_common=0.1, sd_daily=0.2):
    return [fc.ForecastPoint(h, first + timedelta(days=h - 1), v, v * 0.8, v * 1.2, sd_common=sd_common,
                             sd_daily=sd_daily) for h, v in enumerate(values, start=1)]


def test_show_window_sums_the_days_and_repeats_the_last_week_past_the_horizon():
    points = _points([10.0 * (h % 7 + 1) for h in range(14)])  # 10, 20, .. 70 by weekday
    window = fc.show_window(points, date(2026, 6, 15), date(2026, 6, 21), subject="podcast:1")
    assert window.impressions == 280 and window.subject == "podcast:1"
    assert 0.1 < window.sd < 0.2  # the shared level's 0.1 plus the days' 0.2, mostly averaged out
    later = fc.show_window(points, date(2026, 6, 29), date(2026, 7, 5))  # past the forecast: its last week again
    assert later.impressions == 280
    assert fc.show_window(points, date(2026, 6, 20), date(2026, 6, 19)) is None


def test_episode_window_is_the_growth_of_the_cumulative_curve():
    observed = [fc.ForecastPoint(d, None, 100.0 * d, 100.0 * d, 100.0 * d, observed=True) for d in (1, 2, 3)]
    ahead = [fc.ForecastPoint(d, None, 300 + 10.0 * (d - 3), 290 + 9.0 * (d - 3), 310 + 11.0 * (d - 3),
                              sd_common=0.05) for d in range(4, 31)]
    window = fc.episode_window(observed + ahead, 4, 10, subject="episode:5")
    assert window.impressions == pytest.approx(70.0) and window.sd > 0
    assert fc.episode_window(observed + ahead, 1, 3).impressions == 300 and fc.episode_window(observed, 1, 3).sd == 0
    assert fc.episode_window(observed + ahead, 40, 50) is None  # past the curve


def test_delivery_forecast_interval_and_the_chance_of_reaching_the_goal():
    sure = fc.delivery_forecast(1000, [fc.Expected("podcast:1", 500.0, 0.0)], goal=1400)
    assert (sure.forecast, sure.lower, sure.upper, sure.probability) == (1500, 1500, 1500, 1.0)
    coin = fc.delivery_forecast(1000, [fc.Expected("podcast:1", 500.0, 0.3)], goal=1500)
    assert coin.lower < 1500 < coin.upper and 0.45 < coin.probability < 0.55
    far = fc.delivery_forecast(1000, [fc.Expected("podcast:1", 500.0, 0.3)], goal=5000)
    assert far.probability < 0.01 and fc.delivery_forecast(0, [], None).probability is None
    # Two placements on one show move together: a wider interval than on two shows.
    shared = fc.delivery_forecast(0, [fc.Expected("podcast:1", 500.0, 0.3), fc.Expected("podcast:1", 500.0, 0.3)], 1)
    apart = fc.delivery_forecast(0, [fc.Expected("podcast:1", 500.0, 0.3), fc.Expected("podcast:2", 500.0, 0.3)], 1)
    assert shared.upper - shared.lower > 1.2 * (apart.upper - apart.lower)
    assert fc.delivery_forecast(0, [fc.Expected("a", 5.0, 0.3)], 1, seed=3) == fc.delivery_forecast(
        0, [fc.Expected("a", 5.0, 0.3)], 1, seed=3)  # the same answer every time


def test_forecast_points_round_trip_through_storage():
    point = fc.ForecastPoint(3, date(2026, 6, 3), 12.04, 10.0, 14.0, False, 0.1, 0.2)
    assert fc.ForecastPoint.from_dict(point.as_dict()) == fc.ForecastPoint(3, date(2026, 6, 3), 12.0, 10.0, 14.0,
                                                                           False, 0.1, 0.2)


def test_backtest_scores_count_errors_and_coverage():
    scores = backtest.Scores()
    scores.add(100, 110, 150, 90, 120)
    scores.add(100, 70, 100, 80, 95)
    scores.add(0, 5, 5, 0, 10)  # no percentage error of a zero
    row = scores.as_row("x")
    assert row == {"forecast": "x", "n": 2, "mape": pytest.approx(20.0), "baseline_mape": pytest.approx(25.0),
                   "coverage": pytest.approx(50.0)}


def test_the_campaign_pacing_block_shows_the_interval_and_the_chance():
    from components.campaigns import delivery_kpis, pacing_panel
    from services.sponsorship.pacing import Pacing

    p = Pacing(as_of=date(2026, 6, 15), goal=40000, delivered=15000, expected=20000, pace=0.75, forecast=32000,
               shortfall=8000, under_delivery=True, reach=9000, frequency=1.7, spend=375.0, forecast_lower=29000,
               forecast_upper=36000, goal_probability=0.04)
    text = str(pacing_panel(p))
    assert "(80%: 29.0k–36.0k)" in text and "chance of reaching the goal: 4%" in text
    assert "80%: 29.0k–36.0k" in str(delivery_kpis(p))
    assert p.as_dict()["goal_probability"] == 0.04 and p.as_dict()["forecast_upper"] == 36000
