"""KPI cards: a label, a big number and its change against the comparison period."""
from __future__ import annotations

from dash import html

from components.numbers import format_number, format_percent

__all__ = ["format_number", "format_percent", "kpi_card", "kpi_row", "message"]


def kpi_card(label: str, value: float | None, change: float | None = None, hint: str = "") -> html.Div:
    shown = "—" if value is None else format_number(value)
    children = [html.Div(label, className="kpi-label"), html.Div(shown, className="kpi-value")]
    if change is not None:
        direction = "up" if change >= 0 else "down"
        children.append(html.Div(f"{'▲' if change >= 0 else '▼'} {format_percent(abs(change))} {hint}".strip(),
                                 className=f"kpi-change kpi-{direction}"))
    elif hint:
        children.append(html.Div(hint, className="kpi-change"))
    return html.Div(children, className="kpi-card")


def kpi_row(cards: list[html.Div]) -> html.Div:
    return html.Div(cards, className="kpi-row")


def message(text: str, kind: str = "error") -> html.Div:
    return html.Div(text, className=f"message message-{kind}", role="alert" if kind == "error" else "status")
