"""View state <-> URL query string, presets, comparisons and the tenant's "today"."""
from datetime import date, datetime, timezone

import pytest

from services.dashboards.periods import ViewState, resolve_period, today_in

TODAY = date(2026, 3, 15)


def test_default_view_has_an_empty_query_and_round_trips():
    assert ViewState().to_query() == ""
    state = ViewState(range="custom", start=date(2026, 1, 1), end=date(2026, 1, 31), compare="year", podcast=3,
                      granularity="week", country="GB", episodes=(5, 7))
    query = state.to_query()
    assert query == "?range=custom&from=2026-01-01&to=2026-01-31&compare=year&podcast=3&granularity=week&country=GB&episodes=5,7"
    assert ViewState.from_query(query) == state
    assert ViewState.from_query(dict(range="custom", **{"from": "2026-01-01", "to": "2026-01-31"},
                                     compare="year", podcast="3", granularity="week", country="gb",
                                     episodes="5,7")) == state


@pytest.mark.parametrize("query", ["?range=bogus", "?compare=x&granularity=y", "?podcast=abc", "?podcast=-4",
                                   "?range=custom", "?range=custom&from=2026-13-01&to=2026-01-01", "?country=USA"])
def test_bad_values_fall_back_to_defaults(query):
    assert ViewState.from_query(query) == ViewState()


def test_controls_values_go_through_the_same_validation():
    state = ViewState.from_controls("custom", "2026-02-10T00:00:00", "2026-02-01", "none", 4, "month",
                                    episodes=[9, 9, 8, 1, 2, 3, 4, 5, 6, 7])
    assert (state.start, state.end) == (date(2026, 2, 1), date(2026, 2, 10))  # swapped into order
    assert state.episodes == (9, 8, 1, 2, 3, 4, 5, 6)  # distinct, at most 8
    assert (state.compare, state.podcast, state.granularity) == ("none", 4, "month")


@pytest.mark.parametrize("preset, first", [("7d", date(2026, 3, 9)), ("30d", date(2026, 2, 14)),
                                           ("90d", date(2025, 12, 16)), ("12m", date(2025, 3, 16))])
def test_presets_end_today_with_the_previous_period_before(preset, first):
    period = resolve_period(ViewState(range=preset), TODAY)
    assert (period.first, period.last) == (first, TODAY)
    assert period.compare_last == date.fromordinal(first.toordinal() - 1)
    assert period.days == (period.compare_last - period.compare_first).days + 1


def test_previous_year_and_leap_day():
    period = resolve_period(ViewState(range="custom", start=date(2024, 2, 1), end=date(2024, 2, 29), compare="year"),
                            TODAY)
    assert (period.compare_first, period.compare_last) == (date(2023, 2, 1), date(2023, 2, 28))


def test_all_time_starts_at_the_first_counted_day_and_none_has_no_comparison():
    period = resolve_period(ViewState(range="all", compare="none"), TODAY, date(2024, 5, 1))
    assert (period.first, period.last, period.has_comparison) == (date(2024, 5, 1), TODAY, False)
    assert resolve_period(ViewState(range="all"), TODAY, None).first == TODAY


def test_today_is_in_the_tenants_time_zone():
    moment = datetime(2026, 3, 15, 23, 30, tzinfo=timezone.utc)
    assert today_in("UTC", moment) == date(2026, 3, 15)
    assert today_in("Asia/Tokyo", moment) == date(2026, 3, 16)
    assert today_in("America/Los_Angeles", moment) == date(2026, 3, 15)
    assert today_in("Not/AZone", moment) == date(2026, 3, 15)  # a bad zone reads as UTC
