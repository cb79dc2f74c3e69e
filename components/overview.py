"""The overview's sections (KPI cards, downloads over time, top lists), shared by the overview and a podcast's page."""
from __future__ import annotations

from dash import dcc, html

from components.controls import chart_card, graph
from components.embeds import share_form


def overview_sections(ids) -> list:
    return [
        html.Div(id=ids.MESSAGE),
        dcc.Loading(html.Div(id=ids.KPIS, className="kpi-slot"), type="dot", delay_show=150),
        html.Div(id=ids.SUMMARY),
        chart_card(ids, "timeline", "Downloads over time", graph(ids.CHART, 380),
                   "Bars: downloads; dotted line: the comparison period; triangles: episode releases; "
                   "crosses: anomalies."),
        html.Div([
            chart_card(ids, "top-episodes", "Top episodes", graph(ids.TOP_EPISODES)),
            chart_card(ids, "top-apps", "Top apps", graph(ids.TOP_APPS)),
            chart_card(ids, "top-countries", "Top countries", graph(ids.TOP_COUNTRIES)),
        ], className="card-grid"),
        share_form(ids.PREFIX),
    ]
