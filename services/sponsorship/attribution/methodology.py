"""The attribution rules as applied, in plain data for the methodology page: inputs, household keys, exposures,
lookback, prior customers, shared addresses, promo codes, the seven credit models and lift. Figures come from the
modules that apply them; campaign settings are this network's campaigns' values (or the defaults)."""
from __future__ import annotations

import inspect
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.sponsorship.campaign_fields import ATTRIBUTION_DEFAULTS
from services.models import Campaign
from services.models.campaigns import LOOKBACK_DAYS
from services.sponsorship.attribution import households, lift, matching, models, results, shapley
from services.tenancy import TenantContext

# The figures of the matching and lift step, read from the modules that apply them so the page cannot drift.
PRIOR_CUSTOMER_DAYS = matching.PRIOR_CUSTOMER_DAYS  # converted this many days before the first exposure
USABLE_SHARE_WARNING = results.USABLE_IP_WARNING  # below this share of usable addresses, results warn
LIFT_MIN_HOUSEHOLDS = lift.MIN_HOUSEHOLDS  # per group (exposed, unexposed), else "too few to say"
LIFT_MIN_CONVERTERS = lift.MIN_CONVERTERS  # per group
LIFT_CONFIDENCE = 0.95
# The seed the sampled Shapley values are drawn with: shapley()'s own default, so the page cannot drift from it.
SHAPLEY_SEED = inspect.signature(shapley.shapley).parameters["seed"].default


def campaign_settings(s: Session, ctx: TenantContext) -> dict[str, Counter]:
    """How many of the network's campaigns (a sponsor user: its own) use each lookback, half-life and Markov order."""
    stmt = select(Campaign.lookback_days, Campaign.decay_half_life_days, Campaign.markov_order).where(
        Campaign.tenant_id == ctx.tenant_id)
    if ctx.is_sponsor:
        stmt = stmt.where(Campaign.sponsor_id == ctx.sponsor_id)
    rows = s.execute(stmt).all()
    return {"lookback_days": Counter(int(r[0]) for r in rows),
            "decay_half_life_days": Counter(float(r[1]) for r in rows),
            "markov_order": Counter(int(r[2] or 1) for r in rows)}


def _orders(counts: Counter) -> str:
    if not counts:
        return "no campaigns yet"
    return "this network's campaigns use " + ", ".join(
        f"order {order} ({n} campaign{'s' if n != 1 else ''})" for order, n in sorted(counts.items()))


def _in_use(counts: Counter, default, unit: str = "days") -> str:
    if not counts:
        return f"no campaigns yet: the default, {default:g} {unit}, applies"
    parts = [f"{value:g} {unit} ({n} campaign{'s' if n != 1 else ''})" for value, n in sorted(counts.items())]
    return "this network's campaigns use " + ", ".join(parts)


def attribution_rules(s: Session, ctx: TenantContext) -> dict:
    settings = campaign_settings(s, ctx)
    low, high = LOOKBACK_DAYS
    lookback_default = ATTRIBUTION_DEFAULTS["lookback_days"]
    half_life_default = ATTRIBUTION_DEFAULTS["decay_half_life_days"]
    epoch, kept = households.EPOCH_DAYS, households.SECRET_KEPT_DAYS
    first, last = models.POSITION_FIRST, models.POSITION_LAST
    middle = round(1 - first - last, 10)
    return {
        "inputs": [
            ("Pixel", "the sponsor's pages load PUBLIC_BASE_URL/px.gif?k=<pixel key>&e=<type>&id=<event id> (with "
                      "optional v= value, c= currency, o= order id, u= page URL, r= referrer, utm_* parameters); it "
                      "always answers a 1x1 GIF and is checked when stored, refused calls counted by reason"),
            ("Server to server", "POST /api/v1/sponsors/<id>/conversions with a write key: up to 1,000 events, each "
                                 "with event_id, type, occurred_at and the visitor's IP; each bad event is named by "
                                 "index and field, the good ones of the batch are stored"),
            ("Tracking links", "PUBLIC_BASE_URL/l/<code> records a click for its campaign and redirects to the "
                               "landing URL with utm_source=podcast, utm_medium=audio, utm_campaign=<id>"),
            ("Promo codes", "a CSV of orders (code, occurred_at, order_id, value) uploaded on the campaigns page; "
                            "a file with any bad row stores nothing"),
        ],
        "idempotency": ("Every event is stored once per sponsor and event id (for promo-code orders, the order id; for "
                        "clicks, an id given at the click): the same event id sent again, from any input, at any "
                        "time, counts once."),
        "household": (f"A household is the IP address alone (IPv4 as is, IPv6 truncated to its /64), never the "
                      f"User-Agent, hashed with a random secret per {epoch}-day epoch. A conversion carries the key "
                      f"of its own epoch and of the previous one, so exposures up to {households.MAX_LOOKBACK_DAYS} "
                      f"days back match across one rotation. A secret is deleted {kept} days after its epoch ends; "
                      "after that no key of that epoch can be linked back to an address. Raw IP addresses are never "
                      "stored."),
        "exposures": ("An exposure is a counted download of an episode that carries one of the campaign's placements, "
                      "inside the placement's flight (UTC days), and for a dynamically inserted ad from one of the "
                      "campaign's target countries: the same rule as delivery."),
        "lookback": (f"A conversion is matched to the household's exposures in the {low}-{high} days before it "
                     f"(default {lookback_default}; {_in_use(settings['lookback_days'], lookback_default)}). A "
                     "conversion before the household's first exposure is not attributed."),
        "prior_customers": (f"With 'exclude prior customers' set on the campaign, a household that converted in the "
                            f"{PRIOR_CUSTOMER_DAYS} days before its first exposure is left out."),
        "shared_ips": ("Addresses of data-centre, hosting and mobile-carrier networks (from the ASN data bundled with "
                       "geoip2fast, matched on the network owner's name) stand for many households: their events are "
                       "stored but kept out of deterministic household matching. When fewer than "
                       f"{USABLE_SHARE_WARNING:.0%} of a campaign's conversions come from usable addresses, its "
                       "results carry a warning."),
        "promo_codes": ("A promo-code order is credited to the campaign whose code it used, without needing an "
                        "exposure, and is reported separately from household-matched conversions."),
        "models": [
            ("First touch", "all credit to the household's first exposure"),
            ("Last touch", "all credit to the last exposure before the conversion"),
            ("Linear", "equal credit per touch (a channel touched twice earns twice)"),
            ("Time decay", f"each touch weighs 2^(-age / half-life), normalised per conversion; half-life "
                           f"default {half_life_default:g} days "
                           f"({_in_use(settings['decay_half_life_days'], half_life_default)})"),
            ("Position based", f"{first:.0%} to the first touch, {last:.0%} to the last, the middle touches share "
                               f"{middle:.0%}; two touches 50/50; one touch 100%"),
            ("Markov", "removal effects computed exactly from the absorbing chain fitted to all journeys "
                       "(converting and not), no simulation; order 1 by default (a state is the last placement heard), "
                       "order 2 where the campaign asks (a state is the last two, in order: it needs more "
                       f"conversions per path to be stable; {_orders(settings['markov_order'])})"),
            ("Shapley", f"exact up to {shapley.MAX_EXACT_CHANNELS} channels; above that, sampled over "
                        f"{shapley.DEFAULT_PERMUTATIONS} random orders (each with its reverse and all rotations) "
                        f"drawn with seed {SHAPLEY_SEED}, with the standard error shown"),
        ],
        "lift": (f"Lift compares the conversion rate of exposed households with that of unexposed households who "
                 f"downloaded the same shows, with a {LIFT_CONFIDENCE:.0%} interval; below "
                 f"{LIFT_MIN_HOUSEHOLDS} households or {LIFT_MIN_CONVERTERS} converters in either group it says "
                 "\"too few to say\"."),
    }
