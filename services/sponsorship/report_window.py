"""The campaign page's date range: the dashboards' presets (components/controls.py shows the same ones) applied to a
flight. "All time" is the whole flight, and the page's default; a preset ends today in the tenant's time zone and is
cut to the flight; a custom range is cut to the flight too."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from services.dashboards.periods import PRESETS, ViewState, resolve_period

WHOLE_FLIGHT = "all"


@dataclass(frozen=True)
class ReportWindow:
    preset: str
    first: date
    last: date
    note: str | None = None  # said when the chosen period missed the flight and the whole flight is shown

    @property
    def whole_flight(self) -> bool:
        return self.preset == WHOLE_FLIGHT


def parse_range(query: Mapping[str, str] | None) -> tuple[str, date | None, date | None]:
    """The URL's range, from and to; lenient, like the dashboards' (an unknown preset is the whole flight)."""
    query = query or {}
    if query.get("range") not in PRESETS:
        return WHOLE_FLIGHT, None, None
    state = ViewState.from_query({k: v for k, v in query.items() if k in ("range", "from", "to")})
    if query.get("range") == "custom" and state.range != "custom":
        return WHOLE_FLIGHT, None, None  # custom without both dates
    return state.range, state.start, state.end


def range_query(preset: str | None, first, last) -> str:
    """The query string for the controls' values ("" for the whole flight)."""
    if not preset or preset == WHOLE_FLIGHT or preset not in PRESETS:
        return ""
    state = ViewState.from_controls(preset, first, last)
    if state.range != preset:  # custom without both dates yet
        return ""
    pairs = [("range", preset)]
    if preset == "custom":
        pairs += [("from", state.start.isoformat()), ("to", state.end.isoformat())]
    return "?" + urlencode(pairs)


def report_window(flight_start: date, flight_end: date, preset: str | None, first, last, today: date) -> ReportWindow:
    """The days the page reports on: the chosen period inside the flight."""
    if not preset or preset == WHOLE_FLIGHT or preset not in PRESETS:
        return ReportWindow(WHOLE_FLIGHT, flight_start, flight_end)
    state = ViewState.from_controls(preset, first, last, "none")
    if state.range != preset:
        return ReportWindow(WHOLE_FLIGHT, flight_start, flight_end)
    period = resolve_period(state, today)
    lo, hi = max(period.first, flight_start), min(period.last, flight_end)
    if lo > hi:
        return ReportWindow(WHOLE_FLIGHT, flight_start, flight_end,
                            f"The flight ({flight_start} – {flight_end}) has no days in that period: showing the "
                            "whole flight.")
    return ReportWindow(preset, lo, hi)


def campaign_window(db, ctx, campaign_id: int, preset: str | None, first=None, last=None) -> ReportWindow:
    """The window for a campaign the context may see (NotFound otherwise), "today" in the tenant's time zone."""
    from services.dashboards.common import tenant_today
    from services.sponsorship.campaigns import get_campaign

    campaign = get_campaign(db, ctx, campaign_id)
    return report_window(campaign.start_date, campaign.end_date, preset, first, last, tenant_today(db, ctx))
