"""Lift: the conversion rate of exposed households against a control of unexposed households of the same shows.

The rules, as applied:
- **Exposed**: the households (household keys) with at least one exposure of the campaign (prior customers left out
  when the campaign excludes them); a **converter** is one with at least one matched conversion.
- **Control**: households that downloaded the same shows in the same period (the flight widened by the lookback on
  both sides) with no exposure of the campaign: episodes outside the placements, or downloads before the flight.
  Their downloads of those shows stand in for exposures, so a control **converter** is a household with a usable
  conversion of the sponsor within the lookback after one of its downloads: the same matching rule as the exposed.
- lift = exposed rate / control rate - 1, with a 95% interval from the log relative risk by the delta method:
  se = sqrt(1/a - 1/n1 + 1/c - 1/n0) (a, c converters; n1, n0 households), interval exp(ln RR +- 1.96 se) - 1.
- With fewer than 30 households or 5 converters in either group the answer is "too few to say", never a number.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

MIN_HOUSEHOLDS = 30
MIN_CONVERTERS = 5
Z95 = 1.959963984540054
TOO_FEW = "too few to say: each group needs at least {h} households and {c} converters".format(
    h=MIN_HOUSEHOLDS, c=MIN_CONVERTERS)


@dataclass(frozen=True)
class Lift:
    exposed_households: int
    exposed_converters: int
    control_households: int
    control_converters: int
    exposed_rate: float | None
    control_rate: float | None
    lift: float | None
    ci_low: float | None
    ci_high: float | None
    enough_data: bool
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


def _rate(converters: int, households: int) -> float | None:
    return converters / households if households else None


def lift(exposed_households: int, exposed_converters: int, control_households: int, control_converters: int) -> Lift:
    """The lift of the exposed over the control with its 95% interval (see the module docstring)."""
    n1, a, n0, c = exposed_households, exposed_converters, control_households, control_converters
    p1, p0 = _rate(a, n1), _rate(c, n0)
    enough = min(n1, n0) >= MIN_HOUSEHOLDS and min(a, c) >= MIN_CONVERTERS
    if not enough:
        return Lift(n1, a, n0, c, p1, p0, None, None, None, False, TOO_FEW)
    rr = p1 / p0
    se = math.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n0)
    low, high = math.exp(math.log(rr) - Z95 * se) - 1, math.exp(math.log(rr) + Z95 * se) - 1
    message = (f"exposed households converted at {p1:.2%} against {p0:.2%} for unexposed listeners of the same shows: "
               f"lift {rr - 1:+.0%} (95% interval {low:+.0%} to {high:+.0%})")
    return Lift(n1, a, n0, c, p1, p0, rr - 1, low, high, True, message)
