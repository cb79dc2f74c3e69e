"""A dashboard's view state (what the URL query string holds) and the periods it resolves to: presets, custom
ranges, previous period or previous year, "today" in the tenant's time zone."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PRESETS = {"7d": 7, "30d": 30, "90d": 90, "12m": 365, "all": None, "custom": None}
PRESET_LABELS = {"7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days", "12m": "Last 12 months",
                 "all": "All time", "custom": "Custom range"}
COMPARISONS = {"previous": "Previous period", "year": "Previous year", "none": "No comparison"}
GRANULARITIES = {"hour": "Hour", "day": "Day", "week": "Week", "month": "Month"}
MAX_COMPARE_EPISODES = 8
DEFAULT_RANGE, DEFAULT_COMPARE, DEFAULT_GRANULARITY = "30d", "previous", "day"


@dataclass(frozen=True)
class ViewState:
    """Everything a dashboard view depends on; `to_query()` / `from_query()` round-trip through the URL."""

    range: str = DEFAULT_RANGE
    start: date | None = None  # custom range only
    end: date | None = None
    compare: str = DEFAULT_COMPARE
    podcast: int | None = None
    granularity: str = DEFAULT_GRANULARITY
    country: str | None = None  # audience drill-down
    episodes: tuple[int, ...] = field(default=())  # episodes compared on the episode page

    @classmethod
    def from_query(cls, query: Mapping[str, str] | str | None) -> ViewState:
        """Lenient: an unknown or malformed value falls back to its default, so any URL opens a view."""
        if isinstance(query, str):
            query = dict(parse_qsl(query.lstrip("?")))
        query = query or {}
        start, end = _date(query.get("from")), _date(query.get("to"))
        preset = query.get("range") if query.get("range") in PRESETS else DEFAULT_RANGE
        if preset == "custom" and not (start and end):
            preset = DEFAULT_RANGE
        if start and end and start > end:
            start, end = end, start
        country = (query.get("country") or "").upper()
        return cls(range=preset, start=start if preset == "custom" else None, end=end if preset == "custom" else None,
                   compare=query.get("compare") if query.get("compare") in COMPARISONS else DEFAULT_COMPARE,
                   podcast=_int(query.get("podcast")),
                   granularity=query.get("granularity") if query.get("granularity") in GRANULARITIES
                   else DEFAULT_GRANULARITY,
                   country=country if len(country) == 2 and country.isalpha() else None,
                   episodes=_ids(query.get("episodes")))

    @classmethod
    def from_controls(cls, preset=None, start=None, end=None, compare=None, podcast=None, granularity=None,
                      country=None, episodes=None) -> ViewState:
        """From the controls' values (as Dash sends them), through the same validation as the URL."""
        return cls.from_query({k: str(v) for k, v in {
            "range": preset, "from": (start or "")[:10] if isinstance(start, str) else start,
            "to": (end or "")[:10] if isinstance(end, str) else end, "compare": compare,
            "podcast": podcast, "granularity": granularity, "country": country,
            "episodes": ",".join(str(e) for e in episodes or ()) or None}.items() if v not in (None, "")})

    def to_query(self) -> str:
        """The query string ("?..." or "" for the default view); only values that differ from the defaults."""
        pairs = []
        if self.range != DEFAULT_RANGE:
            pairs.append(("range", self.range))
        if self.range == "custom":
            pairs += [("from", self.start.isoformat()), ("to", self.end.isoformat())]
        if self.compare != DEFAULT_COMPARE:
            pairs.append(("compare", self.compare))
        if self.podcast is not None:
            pairs.append(("podcast", str(self.podcast)))
        if self.granularity != DEFAULT_GRANULARITY:
            pairs.append(("granularity", self.granularity))
        if self.country:
            pairs.append(("country", self.country))
        if self.episodes:
            pairs.append(("episodes", ",".join(str(e) for e in self.episodes)))
        return "?" + urlencode(pairs, safe=",") if pairs else ""

    def with_(self, **changes) -> ViewState:
        return replace(self, **changes)

    def carried(self) -> ViewState:
        """What follows the user to another dashboard page: the period, comparison and podcast. The granularity
        (not every page has it) and a page's own drill-downs (the audience's country, the compared episodes) stay
        on that page."""
        return replace(self, granularity=DEFAULT_GRANULARITY, country=None, episodes=())


def carried_query(search: str | None) -> str:
    """The query string another dashboard page opens with, from the current page's query string."""
    return ViewState.from_query(search or "").carried().to_query()


@dataclass(frozen=True)
class Period:
    """Inclusive UTC days of the view and of its comparison (None when there is none)."""

    first: date
    last: date
    compare_first: date | None = None
    compare_last: date | None = None

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def has_comparison(self) -> bool:
        return self.compare_first is not None


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def today_in(tz_name: str | None, now: datetime | None = None) -> date:
    """Today's date in the tenant's time zone."""
    return (now or datetime.now(timezone.utc)).astimezone(zone(tz_name)).date()


def minus_year(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def resolve_period(state: ViewState, today: date, first_data_day: date | None = None) -> Period:
    """The view's days: presets end today (inclusive); "all" starts at the tenant's first counted day."""
    if state.range == "custom" and state.start and state.end:
        first, last = state.start, state.end
    elif state.range == "all":
        last = today
        first = min(first_data_day or today, today)
    else:
        last = today
        first = today - timedelta(days=PRESETS.get(state.range, 30) - 1)
    if state.compare == "previous":
        span = (last - first).days + 1
        return Period(first, last, first - timedelta(days=span), first - timedelta(days=1))
    if state.compare == "year":
        return Period(first, last, minus_year(first), minus_year(last))
    return Period(first, last)


def _date(value) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _int(value) -> int | None:
    try:
        number = int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and number > 0 else None


def _ids(value) -> tuple[int, ...]:
    ids = []
    for part in str(value or "").split(","):
        number = _int(part.strip())
        if number is not None and number not in ids:
            ids.append(number)
    return tuple(ids[:MAX_COMPARE_EPISODES])
