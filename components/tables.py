"""Plain HTML tables for short lists (long, sortable lists use AG Grid)."""
from __future__ import annotations

from dash import html


def _header(text: str) -> html.Th:
    # An action column has no visible heading; a screen reader still hears what the column is for.
    return html.Th(text if text else html.Span("Actions", className="visually-hidden"), scope="col")


def simple_table(headers: list[str], rows: list[list], empty: str = "Nothing here yet.") -> html.Div | html.P:
    """The table inside its own horizontally scrolling box, so a wide table never widens the page on a phone."""
    if not rows:
        return html.P(empty, className="muted")
    return html.Div(html.Table([
        html.Thead(html.Tr([_header(h) for h in headers])),
        html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in rows]),
    ], className="data-table"), className="table-scroll")
