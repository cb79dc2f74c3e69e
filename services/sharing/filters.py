"""An embed's locked filters: which period (a preset that moves with the calendar, or fixed dates), podcast,
episode or campaign its chart shows. Checked once at creation and stored in one canonical shape; the public route
builds the chart's view from them alone, so nothing a viewer sends can widen what an embed shows."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from services.dashboards.periods import ViewState
from services.errors import ValidationError
from services.models.embeds import EMBED_CHARTS

# Period presets as embeds name them -> the dashboards' preset codes (which are accepted too, from the pages).
PERIODS = {"last_7_days": "7d", "last_30_days": "30d", "last_90_days": "90d", "last_12_months": "12m",
           "all_time": "all"}
FIXED = "fixed"
PERIOD_LABELS = {"last_7_days": "Last 7 days", "last_30_days": "Last 30 days", "last_90_days": "Last 90 days",
                 "last_12_months": "Last 12 months", "all_time": "All time", FIXED: "Fixed dates"}
DEFAULT_PERIOD = "last_30_days"
GRANULARITIES = ("hour", "day", "week", "month")
COMPARES = ("none", "previous", "year")

DASHBOARD_CHARTS = ("downloads_timeline", "top_episodes", "top_apps", "top_countries", "world_map")
CAMPAIGN_CHARTS = ("campaign_delivery", "campaign_attribution")
SPONSOR_CHARTS = CAMPAIGN_CHARTS  # a sponsor user may share only their own campaign's charts
# The id each chart needs (required) and the ids it may take; the period applies to the dashboard charts only.
REQUIRED = {"episode_launch": "episode", "campaign_delivery": "campaign", "campaign_attribution": "campaign"}
OPTIONAL = {chart: ("podcast",) for chart in DASHBOARD_CHARTS}
KNOWN = ("period", "from", "to", "podcast", "episode", "campaign", "granularity", "compare")


def _id(raw, name: str, errors: dict) -> int | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, bool):
        errors[f"filters.{name}"] = "an id (a positive whole number)"
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if value <= 0 or (isinstance(raw, float) and raw != value):
        errors[f"filters.{name}"] = "an id (a positive whole number)"
        return None
    return value


def _day(raw, name: str, errors: dict) -> date | None:
    try:
        return date.fromisoformat(str(raw)[:10]) if raw not in (None, "") else None
    except ValueError:
        errors[f"filters.{name}"] = "a date as YYYY-MM-DD"
        return None


def lock_filters(chart: str, raw: Mapping | None) -> dict:
    """The canonical locked filters for `chart`, or ValidationError naming each bad field as filters.<name>."""
    if chart not in EMBED_CHARTS:
        raise ValidationError(f"chart must be one of {', '.join(EMBED_CHARTS)}", {"chart": "unknown chart"})
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ValidationError("filters must be an object", {"filters": "an object"})
    errors: dict[str, str] = {}
    for key in raw:
        if key not in KNOWN:
            errors[f"filters.{key}"] = f"unknown filter (known: {', '.join(KNOWN)})"
    ids = {name: _id(raw.get(name), name, errors) for name in ("podcast", "episode", "campaign")}
    required = REQUIRED.get(chart)
    allowed = set(OPTIONAL.get(chart, ())) | ({required} if required else set())
    for name, value in ids.items():
        if value is not None and name not in allowed:
            errors[f"filters.{name}"] = f"does not apply to {chart}"
    if required and ids[required] is None and f"filters.{required}" not in errors:
        errors[f"filters.{required}"] = f"required for {chart}"
    locked: dict = {name: value for name, value in ids.items() if name in allowed}
    if chart in DASHBOARD_CHARTS:
        locked.update(_period(raw, errors))
        granularity = raw.get("granularity") or "day"
        if chart == "downloads_timeline":
            if granularity not in GRANULARITIES:
                errors["filters.granularity"] = f"one of {', '.join(GRANULARITIES)}"
            compare = raw.get("compare") or "none"
            if compare not in COMPARES:
                errors["filters.compare"] = f"one of {', '.join(COMPARES)}"
            locked.update(granularity=granularity, compare=compare)
    if errors:
        raise ValidationError("bad embed filters: " + ", ".join(sorted(errors)), errors)
    return locked


def _period(raw: Mapping, errors: dict) -> dict:
    period = raw.get("period") or DEFAULT_PERIOD
    period = {code: name for name, code in PERIODS.items()}.get(period, period)  # the pages' "30d" -> last_30_days
    if period == "custom":
        period = FIXED
    first, last = _day(raw.get("from"), "from", errors), _day(raw.get("to"), "to", errors)
    if period == FIXED:
        if first is None and "filters.from" not in errors:
            errors["filters.from"] = "required for fixed dates"
        if last is None and "filters.to" not in errors:
            errors["filters.to"] = "required for fixed dates"
        if first and last and first > last:
            errors["filters.to"] = "on or after from"
        return {"period": FIXED, "from": first.isoformat() if first else None,
                "to": last.isoformat() if last else None}
    if period not in PERIODS:
        errors["filters.period"] = f"one of {', '.join([*PERIODS, FIXED])}"
    elif first or last:
        errors["filters.from" if first else "filters.to"] = "only with period 'fixed'"
    return {"period": period}


def view_state(filters: Mapping) -> ViewState:
    """The dashboards' view for locked filters: a preset resolves against today when the chart is drawn."""
    period = filters.get("period", DEFAULT_PERIOD)
    if period == FIXED:
        state = ViewState(range="custom", start=date.fromisoformat(filters["from"]),
                          end=date.fromisoformat(filters["to"]))
    else:
        state = ViewState(range=PERIODS.get(period, "30d"))
    return state.with_(podcast=filters.get("podcast"), compare=filters.get("compare", "none"),
                       granularity=filters.get("granularity", "day"))


def describe(filters: Mapping) -> str:
    """The period in words, for lists ("Last 30 days", "2026-01-01 to 2026-01-31")."""
    period = filters.get("period")
    if period == FIXED:
        return f"{filters['from']} to {filters['to']}"
    return PERIOD_LABELS.get(period, "")
