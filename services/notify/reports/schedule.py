"""When a subscription is due: its latest scheduled moment (a weekday or day of the month, at an hour of the tenant's
time zone) at or before now, and the period that moment reports on (the 7 days before it, or the previous month)."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from services.dashboards.periods import zone

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Occurrence:
    """One scheduled send: when (UTC), and the inclusive days it reports on; `period_key` names the period."""

    due_at: datetime
    period_start: date
    period_end: date
    period_key: str

    @property
    def previous(self) -> tuple[date, date]:
        """The comparison period: the 7 days before a week, the calendar month before a month."""
        if self.period_key.startswith("week:"):
            return self.period_start - timedelta(days=7), self.period_start - timedelta(days=1)
        last = self.period_start - timedelta(days=1)
        return last.replace(day=1), last


def _at(day: date, hour: int, tz_name: str) -> datetime:
    # A local hour that does not exist (clocks go forward) resolves to the hour after, as zoneinfo maps it.
    return datetime.combine(day, time(hour), tzinfo=zone(tz_name)).astimezone(timezone.utc)


def _month_day(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _previous_month(day: date) -> tuple[int, int]:
    return (day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1)


def week_occurrence(send_day: date, hour: int, tz_name: str) -> Occurrence:
    first = send_day - timedelta(days=7)
    return Occurrence(_at(send_day, hour, tz_name), first, send_day - timedelta(days=1), f"week:{first.isoformat()}")


def month_occurrence(send_day: date, hour: int, tz_name: str) -> Occurrence:
    year, month = _previous_month(send_day)
    first = date(year, month, 1)
    return Occurrence(_at(send_day, hour, tz_name), first, _month_day(year, month, 31), f"month:{year:04d}-{month:02d}")


def latest_occurrence(frequency: str, day: int, hour: int, tz_name: str, now: datetime) -> Occurrence:
    """The most recent scheduled send at or before `now` (an aware datetime)."""
    today = now.astimezone(zone(tz_name)).date()
    if frequency == "weekly":
        send_day = today - timedelta(days=(today.isoweekday() - day) % 7)
        occurrence = week_occurrence(send_day, hour, tz_name)
        if occurrence.due_at > now:
            occurrence = week_occurrence(send_day - timedelta(days=7), hour, tz_name)
        return occurrence
    if frequency == "monthly":
        occurrence = month_occurrence(_month_day(today.year, today.month, day), hour, tz_name)
        if occurrence.due_at > now:
            year, month = _previous_month(today)
            occurrence = month_occurrence(_month_day(year, month, day), hour, tz_name)
        return occurrence
    raise ValueError(f"unknown frequency {frequency!r}")


def is_due(occurrence: Occurrence, subscribed_at: datetime) -> bool:
    """A moment before the subscription existed is not sent: the first report is the next scheduled one."""
    if subscribed_at.tzinfo is None:  # SQLite hands back naive UTC
        subscribed_at = subscribed_at.replace(tzinfo=timezone.utc)
    return occurrence.due_at >= subscribed_at


def describe(frequency: str, day: int, hour: int, tz_name: str) -> str:
    when = f"{hour:02d}:00 ({tz_name})"
    if frequency == "weekly":
        return f"Weekly, {WEEKDAYS[day - 1]} at {when}"
    return f"Monthly, day {day} at {when}" + (" (or the month's last day)" if day > 28 else "")
