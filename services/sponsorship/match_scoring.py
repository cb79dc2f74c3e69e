"""Matchmaking's rules as pure functions: each factor of a (campaign, show) pair on 0..1, the weighted score, the
order, and the sentence that explains a rank. No I/O: match_inputs.py reads the rollups these take.

Factors, as applied:
- category_fit: 1 when the show's category is one the campaign targets, 0.5 when they share a word ("Business News"
  and "Business"), 0 otherwise; 0.5 when the campaign targets no category.
- geo_fit: the share of the show's downloads of the last 90 days from the target countries (1 with no target).
- inventory_fit: the show's forecast impressions in the flight (recent daily downloads x the flight days still to
  come) against the campaign's remaining goal, capped at 1; with no goal, against the largest forecast of the shows.
- cpm_fit: CPM pricing with a budget: the remaining budget against the cost of the show's forecast at the
  campaign's CPM, capped at 1 (a show that would overspend scores lower); otherwise 1 (a flat fee costs the same).
- new_reach: 1 - the cosine similarity of the show's audience mix (country and app shares of its downloads, last
  90 days) with the mix of the shows the campaign is already on; 1 when it is on none. New reach is worth more.
- past_performance: attributed conversions per 1000 impressions on the show, over the sponsor's earlier campaigns
  (or, when the sponsor has none with results, its industry's), against the best show's rate; 0.5 when unknown.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

FACTORS = ("category_fit", "geo_fit", "inventory_fit", "cpm_fit", "new_reach", "past_performance")
DEFAULT_WEIGHTS = {"category_fit": 3.0, "geo_fit": 2.0, "inventory_fit": 2.0, "cpm_fit": 1.0, "new_reach": 1.0,
                   "past_performance": 2.0}
MAX_WEIGHT = 10.0
UNKNOWN = 0.5  # a factor without data neither helps nor hurts
PHRASES = {"category_fit": "category fit", "geo_fit": "audience in the target countries",
           "inventory_fit": "inventory for the remaining goal", "cpm_fit": "cost at the CPM within the budget",
           "new_reach": "new reach beyond the current placements", "past_performance": "past attributed performance"}


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^a-z0-9]+", text.lower()) if w and w not in ("and", "the", "of", "for")}


def category_fit(category: str | None, targets: list[str]) -> float:
    if not targets:
        return UNKNOWN
    if not category:
        return 0.0
    if category.lower() in {t.lower() for t in targets}:
        return 1.0
    mine = _words(category)
    return 0.5 if any(mine & _words(t) for t in targets) else 0.0


def geo_fit(country_downloads: dict[str, float], targets: list[str]) -> float:
    if not targets:
        return 1.0
    total = sum(country_downloads.values())
    if total <= 0:
        return 0.0
    wanted = {t.upper() for t in targets}
    return sum(n for c, n in country_downloads.items() if c.upper() in wanted) / total


def inventory_fit(forecast: float, remaining_goal: float | None, largest_forecast: float) -> float:
    """Forecast against the remaining goal (None: no goal, so against the largest forecast of the network)."""
    if forecast <= 0:
        return 0.0
    if remaining_goal is None:
        return min(forecast / largest_forecast, 1.0) if largest_forecast > 0 else 0.0
    if remaining_goal <= 0:
        return 1.0  # the goal is met: any inventory is enough
    return min(forecast / remaining_goal, 1.0)


def cpm_fit(forecast: float, cpm: float | None, remaining_budget: float | None) -> float:
    if not cpm or remaining_budget is None:
        return 1.0
    cost = forecast * cpm / 1000
    if cost <= 0:
        return 1.0
    return max(min(remaining_budget / cost, 1.0), 0.0)


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def audience_mix(countries: dict[str, float], apps: dict[str, float]) -> dict[str, float]:
    """Country shares and app shares of a show's downloads, each half of the vector."""
    mix: dict[str, float] = {}
    for prefix, counts in (("country:", countries), ("app:", apps)):
        total = sum(counts.values())
        for key, n in counts.items():
            if total > 0 and n > 0:
                mix[prefix + key] = mix.get(prefix + key, 0.0) + n / total
    return mix


def new_reach(mix: dict[str, float], placed_mix: dict[str, float] | None) -> float:
    """placed_mix: the campaign's current shows' mix (None: it is on no show yet)."""
    if placed_mix is None:
        return 1.0
    return max(0.0, 1.0 - cosine(mix, placed_mix))


def performance_fit(rate: float | None, best_rate: float) -> float:
    if rate is None:
        return UNKNOWN
    return min(rate / best_rate, 1.0) if best_rate > 0 else 0.0


def clean_factor_values(factors: dict[str, float]) -> dict[str, float]:
    return {name: round(min(max(float(factors.get(name, 0.0)), 0.0), 1.0), 4) for name in FACTORS}


def score(factors: dict[str, float], weights: dict[str, float]) -> float:
    """The weighted mean of the factors (0..1)."""
    total = sum(weights.get(name, 0.0) for name in FACTORS)
    if total <= 0:
        return 0.0
    return round(sum(weights.get(name, 0.0) * factors.get(name, 0.0) for name in FACTORS) / total, 4)


def _level(value: float) -> str:
    return "strong" if value >= 0.75 else "fair" if value >= 0.4 else "weak"


def explain(factors: dict[str, float], weights: dict[str, float], rank: int, total: int) -> str:
    """One sentence from the two factors that add most to the score, and the weakest weighted one when it is weak.
    Ties go by the order of FACTORS, so the sentence is the same for the same inputs."""
    weighted = [name for name in FACTORS if weights.get(name, 0.0) > 0]
    if not weighted:
        return f"#{rank} of {total}: every weight is 0."
    top = sorted(weighted, key=lambda n: (-weights[n] * factors.get(n, 0.0), FACTORS.index(n)))[:2]
    parts = [f"{_level(factors.get(n, 0.0))} {PHRASES[n]} ({factors.get(n, 0.0):.2f})" for n in top]
    sentence = f"#{rank} of {total}: " + " and ".join(parts)
    weakest = min(weighted, key=lambda n: (factors.get(n, 0.0), FACTORS.index(n)))
    if weakest not in top and factors.get(weakest, 0.0) < 0.4:
        sentence += f"; held back by {PHRASES[weakest]} ({factors.get(weakest, 0.0):.2f})"
    return sentence + "."


@dataclass(frozen=True)
class Ranked:
    """A show (or sponsor) with its factors, score, rank and sentence; or excluded, with the reason."""

    key: int
    label: str
    factors: dict[str, float]
    score: float | None = None
    rank: int | None = None
    explanation: str = ""
    excluded_because: str | None = None
    extra: dict = field(default_factory=dict)


Candidate = tuple[int, str, dict[str, float], str | None, dict]  # key, label, factors, excluded_because, extra


def rank(candidates: list[Candidate], weights: dict[str, float]) -> list[Ranked]:
    """candidates: (key, label, factors, excluded_because, extra). The eligible ones ordered by score (then label,
    then key), then the excluded ones by label; an excluded candidate never takes a rank."""
    eligible = [c for c in candidates if c[3] is None]
    scored = sorted(((score(f, weights), key, label, f, extra) for key, label, f, _, extra in eligible),
                    key=lambda t: (-t[0], t[2].lower(), t[1]))
    out = [Ranked(key, label, f, s, i, explain(f, weights, i, len(scored)), None, extra)
           for i, (s, key, label, f, extra) in enumerate(scored, start=1)]
    excluded = sorted((c for c in candidates if c[3] is not None), key=lambda c: (c[1].lower(), c[0]))
    return out + [Ranked(key, label, f, None, None, "", reason, extra) for key, label, f, reason, extra in excluded]
