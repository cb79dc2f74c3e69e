"""Overview: the network's headline numbers against a comparison period, downloads over time, top lists."""
from dash import html, register_page

from components.controls import dashboard_controls
from components.ids import Overview
from components.overview import overview_sections
from services.dashboards.periods import ViewState

register_page(__name__, path="/", name="Overview", title="Overview · Podcast Analytics", order=0,
              keeps_view=True)


def layout(**query):
    state = ViewState.from_query(query)
    return html.Div([
        html.Div(html.H1("Overview"), className="page-header"),
        html.Div(id=Overview.ONBOARDING),
        dashboard_controls(Overview, state),
        *overview_sections(Overview),
    ])
