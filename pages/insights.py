"""Insights: the written summary of the chosen period, and every anomaly found in it, with its known cause."""
from dash import html, register_page

from components.controls import dashboard_controls
from components.ids import Insights
from components.insights import insights_sections
from services.dashboards.periods import ViewState

register_page(__name__, path="/insights", name="Insights", title="Insights · Podcast Analytics", order=15)


def layout(**query):
    state = ViewState.from_query(query)
    return html.Div([
        html.Div(html.H1("Insights"), className="page-header"),
        dashboard_controls(Insights, state, granularity=False),
        *insights_sections(Insights),
    ])
