"""KPI cards: a label, a big number and its change against the comparison period."""
from __future__ import annotations

from dash import html


def format_number(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1_000:.1f}k"
    return f"{value:,.0f}"


def kpi_card(label: str, value: float | None, change: float | None = None, hint: str = "") -> html.Div:
    shown = "—" if value is None else format_number(value)
    children = [html.Div(label, className="kpi-label"), html.Div(shown, className="kpi-value")]
    if change is not None:
        direction = "up" if change >= 0 else "down"
        children.append(html.Div(f"{'▲' if change >= 0 else '▼'} {abs(change):.0%} {hint}".strip(),
                                 className=f"kpi-change kpi-{direction}"))
    elif hint:
        children.append(html.Div(hint, className="kpi-change"))
    return html.Div(children, className="kpi-card")


def kpi_row(cards: list[html.Div]) -> html.Div:
    return html.Div(cards, className="kpi-row")


def message(text: str, kind: str = "error") -> html.Div:
    return html.Div(text, className=f"message message-{kind}", role="alert" if kind == "error" else "status")
