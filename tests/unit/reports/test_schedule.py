"""When a report is due: the latest scheduled moment in the tenant's time zone (weekly on a weekday, monthly on a day
clamped to the month's end, across clock changes) and the period it reports on."""
from datetime import date, datetime, timezone

from services.notify.reports.schedule import describe, is_due, latest_occurrence


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_weekly_monday_8am_in_new_york_is_due_at_noon_utc_and_covers_the_week_before():
    # Monday 2026-11-30, 08:00 EST = 13:00 UTC
    before = latest_occurrence("weekly", 1, 8, "America/New_York", utc(2026, 11, 30, 12, 59))
    after = latest_occurrence("weekly", 1, 8, "America/New_York", utc(2026, 11, 30, 13, 0))
    assert after.due_at == utc(2026, 11, 30, 13, 0)
    assert (after.period_start, after.period_end) == (date(2026, 11, 23), date(2026, 11, 29))
    assert after.previous == (date(2026, 11, 16), date(2026, 11, 22))
    assert before.due_at == utc(2026, 11, 23, 13, 0) and before.period_key != after.period_key


def test_the_same_utc_moment_is_monday_in_tokyo_but_still_sunday_in_utc():
    now = utc(2026, 11, 29, 23, 30)  # Monday 08:30 in Tokyo
    tokyo = latest_occurrence("weekly", 1, 8, "Asia/Tokyo", now)
    london = latest_occurrence("weekly", 1, 8, "UTC", now)
    assert tokyo.due_at == utc(2026, 11, 29, 23, 0) and tokyo.period_end == date(2026, 11, 29)
    assert london.due_at == utc(2026, 11, 23, 8, 0) and london.period_end == date(2026, 11, 22)


def test_monthly_on_the_31st_falls_on_the_last_day_of_a_short_month_and_covers_the_month_before():
    occurrence = latest_occurrence("monthly", 31, 6, "UTC", utc(2026, 2, 28, 6, 0))
    assert occurrence.due_at == utc(2026, 2, 28, 6, 0)
    assert (occurrence.period_start, occurrence.period_end) == (date(2026, 1, 1), date(2026, 1, 31))
    assert occurrence.previous == (date(2025, 12, 1), date(2025, 12, 31))
    earlier = latest_occurrence("monthly", 31, 6, "UTC", utc(2026, 2, 28, 5, 59))
    assert earlier.due_at == utc(2026, 1, 31, 6, 0) and earlier.period_key == "month:2025-12"


def test_a_local_hour_skipped_by_the_clock_change_still_sends_once_that_day():
    # Europe/Berlin moves from 02:00 to 03:00 on Sunday 2026-03-29: 02:00 local does not exist.
    occurrence = latest_occurrence("weekly", 7, 2, "Europe/Berlin", utc(2026, 3, 29, 12, 0))
    assert occurrence.due_at.date() == date(2026, 3, 29) and occurrence.due_at <= utc(2026, 3, 29, 1, 0)
    assert occurrence.period_end == date(2026, 3, 28)


def test_a_moment_before_the_subscription_existed_is_not_due():
    occurrence = latest_occurrence("weekly", 1, 8, "UTC", utc(2026, 12, 2, 9, 0))
    assert occurrence.due_at == utc(2026, 11, 30, 8, 0)
    assert not is_due(occurrence, utc(2026, 12, 1, 0, 0))
    assert is_due(occurrence, datetime(2026, 11, 30, 7, 0))  # naive, as SQLite returns it: UTC
    assert describe("weekly", 1, 8, "UTC") == "Weekly, Monday at 08:00 (UTC)"
