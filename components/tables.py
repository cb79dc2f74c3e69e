"""Plain HTML tables for short lists (long, sortable lists use AG Grid)."""
from __future__ import annotations

from dash import html


def simple_table(headers: list[str], rows: list[list], empty: str = "Nothing here yet.") -> html.Table | html.P:
    if not rows:
        return html.P(empty, className="muted")
    return html.Table([
        html.Thead(html.Tr([html.Th(h) for h in headers])),
        html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in rows]),
    ], className="data-table")
