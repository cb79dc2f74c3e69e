"""The one way numbers are shown: KPI cards, tables and chart hovers all format through these two functions."""
from __future__ import annotations

import math

MISSING = "—"
_SCALES = ((1e9, "B"), (1e6, "M"), (1e3, "k"))


def format_number(value: float | None) -> str:
    """1234 -> '1.2k', 3_400_000 -> '3.4M' (one decimal from a thousand up), 999 -> '999', 12.5 -> '12.5';
    None or NaN -> '—'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    value = round(float(value), 1)  # 999.96 is 1.0k, not 1000.0
    for i, (size, suffix) in enumerate(_SCALES):
        if abs(value) >= size:
            scaled = round(value / size, 1)
            if abs(scaled) >= 1000 and i > 0:  # 999,960 rounds to 1000.0k: that is 1.0M
                size, suffix = _SCALES[i - 1]
                scaled = round(value / size, 1)
            return f"{scaled:.1f}{suffix}"
    if value.is_integer():
        return f"{value:,.0f}"
    return f"{value:.1f}"


def format_percent(share: float | None, signed: bool = False) -> str:
    """A share as a percentage with one decimal: 0.1234 -> '12.3%' (signed: '+12.3%'); None or NaN -> '—'."""
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return MISSING
    return f"{share * 100:+.1f}%" if signed else f"{share * 100:.1f}%"
