"""Overview: the network's headline numbers and downloads over time."""
from dash import dcc, html, register_page

from components.ids import Overview

register_page(__name__, path="/", name="Overview", title="Overview · Podcast Analytics", order=0)

PERIODS = [{"label": "7 days", "value": 7}, {"label": "30 days", "value": 30}, {"label": "90 days", "value": 90},
           {"label": "12 months", "value": 365}]


def layout(**_kwargs):
    return html.Div([
        html.Div([html.H1("Overview"),
                  dcc.RadioItems(PERIODS, value=30, id=Overview.PERIOD, inline=True, className="period-picker")],
                 className="page-header"),
        html.Div(id=Overview.MESSAGE),
        dcc.Loading(html.Div(id=Overview.KPIS), type="dot"),
        dcc.Loading(dcc.Graph(id=Overview.CHART, config={"displaylogo": False}), type="default"),
    ])
