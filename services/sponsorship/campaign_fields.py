"""The campaign form's rules: every field parsed and checked, with a message per bad field (forms and the API)."""
from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from services.errors import ValidationError
from services.models import ATTRIBUTION_MODELS, PRICING
from services.models.campaigns import LOOKBACK_DAYS
from services.sponsorship.sponsors import is_http_url

OBJECTIVES = ("awareness", "consideration", "conversion")
# The attribution settings, and what a blank one means.
MARKOV_ORDERS = (1, 2)
ATTRIBUTION_DEFAULTS = {"lookback_days": 30, "attribution_model": "linear", "exclude_prior_customers": False,
                        "decay_half_life_days": 7.0, "markov_order": 1}
MAX_HALF_LIFE_DAYS = 365.0
FIELDS = ("sponsor_id", "name", "objective", "start_date", "end_date", "budget", "pricing", "cpm", "flat_fee",
          "goal_impressions", "target_categories", "target_countries", "excluded_categories", "landing_url",
          "promo_code", *ATTRIBUTION_DEFAULTS)
REQUIRED = ("sponsor_id", "name", "start_date", "end_date")
PROMO_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{2,63}$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
MAX_FLIGHT_DAYS = 3 * 366


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def parse_int(value) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, float) and not value.is_integer():
        raise ValueError
    return int(str(value).strip()) if isinstance(value, str) else int(value)


def parse_money(value) -> Decimal:
    if isinstance(value, bool):
        raise ValueError
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError from None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:
        raise ValueError
    return amount


def parse_date(value) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise ValueError
    return date.fromisoformat(value.strip())


def parse_flag(value) -> bool:
    """A yes/no setting: a JSON boolean, a checkbox's list of ticked values, or true/false text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, list):  # a dcc.Checklist: ticked when any value is
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
        return value.strip().lower() in ("true", "yes", "on", "1")
    raise ValueError


def parse_days(value) -> float:
    """A positive, finite number of days (decimals allowed, e.g. 3.5)."""
    if isinstance(value, bool):
        raise ValueError
    days = float(value.strip()) if isinstance(value, str) else float(value)
    if not math.isfinite(days):
        raise ValueError
    return days


def _text_list(value) -> list[str]:
    """A list of strings, or one comma-separated string (the form's text box)."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = value
    else:
        raise ValueError
    seen: dict[str, str] = {}
    for item in (i.strip() for i in items):
        if item and item.lower() not in seen:
            seen[item.lower()] = item
    return list(seen.values())


def clean_campaign(data: dict) -> dict:
    """Parse and check a whole campaign; returns model values or raises ValidationError naming each bad field.
    (An edit is checked as the whole campaign it would make.)"""
    errors: dict[str, str] = {name: "unknown field" for name in sorted(set(data) - set(FIELDS))}
    out: dict = {}

    def parse(name, parser, message):
        if name not in data or is_blank(data[name]):
            if name in REQUIRED:
                errors[name] = "required"
            elif name in data:
                out[name] = [] if name in ("target_categories", "target_countries", "excluded_categories") else None
            return
        try:
            out[name] = parser(data[name])
        except (ValueError, TypeError):
            errors[name] = message

    parse("sponsor_id", parse_int, "choose a sponsor")
    parse("name", lambda v: v.strip() if isinstance(v, str) else _fail(), "text")
    parse("objective", lambda v: v.strip().lower() if isinstance(v, str) else _fail(),
          f"one of {', '.join(OBJECTIVES)}")
    parse("start_date", parse_date, "a date as YYYY-MM-DD")
    parse("end_date", parse_date, "a date as YYYY-MM-DD")
    parse("budget", parse_money, "an amount such as 1500 or 1500.50")
    parse("pricing", lambda v: v.strip().lower() if isinstance(v, str) else _fail(), "cpm or flat")
    parse("cpm", parse_money, "an amount such as 25 or 22.50")
    parse("flat_fee", parse_money, "an amount such as 5000")
    parse("goal_impressions", parse_int, "a whole number of impressions")
    parse("target_categories", _text_list, "a list of categories")
    parse("target_countries", _text_list, "a list of two-letter country codes")
    parse("excluded_categories", _text_list, "a list of categories")
    parse("landing_url", lambda v: v.strip() if isinstance(v, str) else _fail(), "an http:// or https:// address")
    parse("promo_code", lambda v: v.strip().upper() if isinstance(v, str) else _fail(),
          "3-64 letters, digits, - or _")

    _clean_attribution(data, out, errors)
    if out.get("name") is not None and len(out["name"]) > 200:
        errors["name"] = "at most 200 characters"
    if out.get("objective") is not None and out["objective"] not in OBJECTIVES:
        errors["objective"] = f"one of {', '.join(OBJECTIVES)}"
    pricing = out.get("pricing") or "cpm"  # blank or missing: CPM
    if pricing not in PRICING and "pricing" not in errors:
        errors["pricing"] = "cpm or flat"
    out["pricing"] = pricing
    for name in ("budget", "cpm", "flat_fee"):
        if out.get(name) is not None and out[name] < 0:
            errors[name] = "cannot be negative"
    if pricing == "cpm" and "cpm" not in errors and not out.get("cpm"):
        errors["cpm"] = "a CPM above 0 is needed for CPM pricing"
    if pricing == "flat" and "flat_fee" not in errors and not out.get("flat_fee"):
        errors["flat_fee"] = "a fee above 0 is needed for flat pricing"
    if out.get("goal_impressions") is not None and out["goal_impressions"] <= 0:
        errors["goal_impressions"] = "more than 0"
    start, end = out.get("start_date"), out.get("end_date")
    if start and end:
        if end < start:
            errors["end_date"] = "on or after the start date"
        elif (end - start).days + 1 > MAX_FLIGHT_DAYS:
            errors["end_date"] = "a flight is at most three years"
    countries = out.get("target_countries") or []
    bad = [c for c in countries if not COUNTRY_RE.match(c.upper())]
    if bad:
        errors["target_countries"] = f"not two-letter country codes: {', '.join(bad)}"
    elif countries:
        out["target_countries"] = [c.upper() for c in countries]
    targeted = {c.lower() for c in out.get("target_categories") or []}
    both = targeted & {c.lower() for c in out.get("excluded_categories") or []}
    if both:
        errors["excluded_categories"] = f"also targeted: {', '.join(sorted(both))}"
    if out.get("landing_url") and not is_http_url(out["landing_url"]):
        errors["landing_url"] = "an http:// or https:// address"
    if out.get("promo_code") and not PROMO_RE.match(out["promo_code"]):
        errors["promo_code"] = "3-64 letters, digits, - or _"
    budget, cpm, goal = out.get("budget"), out.get("cpm"), out.get("goal_impressions")
    priced = {"budget", "cpm", "goal_impressions"}.isdisjoint(errors)
    if pricing == "cpm" and budget is not None and cpm and goal and priced and Decimal(goal) * cpm / 1000 > budget:
        errors["budget"] = f"below the goal's cost at this CPM ({Decimal(goal) * cpm / 1000:.2f})"
    if pricing == "flat" and budget is not None and out.get("flat_fee") and out["flat_fee"] > budget and \
            "budget" not in errors:
        errors["budget"] = "below the flat fee"
    if errors:
        raise ValidationError("; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
    return out


def _clean_attribution(data: dict, out: dict, errors: dict[str, str]) -> None:
    """The attribution settings: a missing one is left as stored (or the column default), a blank one is the
    default; otherwise parsed and range-checked, each with its own message."""
    low, high = LOOKBACK_DAYS
    rules = {
        "lookback_days": (parse_int, lambda v: low <= v <= high, f"a whole number of days from {low} to {high}"),
        "attribution_model": (lambda v: v.strip().lower() if isinstance(v, str) else _fail(),
                              lambda v: v in ATTRIBUTION_MODELS, f"one of {', '.join(ATTRIBUTION_MODELS)}"),
        "exclude_prior_customers": (parse_flag, lambda v: True, "yes or no (true or false)"),
        "decay_half_life_days": (parse_days, lambda v: 0 < v <= MAX_HALF_LIFE_DAYS,
                                 f"a number of days above 0 (at most {MAX_HALF_LIFE_DAYS:g}), e.g. 7"),
        "markov_order": (parse_int, lambda v: v in MARKOV_ORDERS, "1 (each placement on its own) or 2 (pairs in order)"),
    }
    for name, (parser, valid, message) in rules.items():
        if name not in data:
            continue
        if is_blank(data[name]) and not isinstance(data[name], list):  # an unticked checkbox is [] = no
            out[name] = ATTRIBUTION_DEFAULTS[name]
            continue
        try:
            value = parser(data[name])
        except (ValueError, TypeError):
            errors[name] = message
            continue
        if not valid(value):
            errors[name] = message
        else:
            out[name] = value


def _fail():
    raise ValueError
