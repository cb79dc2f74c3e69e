"""Locked filters: one canonical shape per chart, every bad field named; presets resolve against today."""
from __future__ import annotations

from datetime import date

import pytest

from services.dashboards.periods import resolve_period
from services.sharing.filters import describe, lock_filters, view_state
from services.errors import ValidationError


def test_dashboard_chart_defaults_and_page_codes():
    assert lock_filters("top_apps", {}) == {"podcast": None, "period": "last_30_days"}
    assert lock_filters("top_apps", {"period": "90d", "podcast": "3"}) == {"podcast": 3, "period": "last_90_days"}
    assert lock_filters("downloads_timeline", {"period": "custom", "from": "2026-01-01", "to": "2026-01-31",
                                               "granularity": "week"}) == {
        "podcast": None, "period": "fixed", "from": "2026-01-01", "to": "2026-01-31", "granularity": "week",
        "compare": "none"}


def test_a_preset_moves_with_the_calendar_and_fixed_dates_do_not():
    moving = view_state(lock_filters("top_apps", {"period": "last_7_days"}))
    assert resolve_period(moving, date(2026, 3, 10)).first == date(2026, 3, 4)
    assert resolve_period(moving, date(2026, 4, 10)).first == date(2026, 4, 4)
    fixed = view_state(lock_filters("top_apps", {"period": "fixed", "from": "2026-01-01", "to": "2026-01-31"}))
    assert resolve_period(fixed, date(2026, 4, 10)).first == date(2026, 1, 1)
    assert describe({"period": "last_7_days"}) == "Last 7 days"


@pytest.mark.parametrize("chart, raw, field", [
    ("top_apps", {"episode": 4}, "filters.episode"),
    ("top_apps", {"campaign": 4}, "filters.campaign"),
    ("episode_launch", {}, "filters.episode"),
    ("campaign_delivery", {"podcast": 2}, "filters.podcast"),
    ("campaign_attribution", {"campaign": "x"}, "filters.campaign"),
    ("top_apps", {"period": "forever"}, "filters.period"),
    ("top_apps", {"period": "fixed", "from": "2026-02-01"}, "filters.to"),
    ("top_apps", {"period": "fixed", "from": "2026-02-01", "to": "2026-01-01"}, "filters.to"),
    ("top_apps", {"from": "2026-02-01"}, "filters.from"),
    ("top_apps", {"podcast": -1}, "filters.podcast"),
    ("top_apps", {"tenant": 2}, "filters.tenant"),
    ("downloads_timeline", {"granularity": "year"}, "filters.granularity"),
])
def test_bad_filters_name_the_field(chart, raw, field):
    with pytest.raises(ValidationError) as caught:
        lock_filters(chart, raw)
    assert field in caught.value.fields


def test_unknown_chart_is_named():
    with pytest.raises(ValidationError) as caught:
        lock_filters("pie", {})
    assert "chart" in caught.value.fields
