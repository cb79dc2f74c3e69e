"""Audience: where listeners are (world map, drill into a country's regions), their apps, devices, OS and referrers,
and when they listen (weekday x hour in the network's time zone)."""
from dash import dcc, html, register_page

from components.controls import chart_card, dashboard_controls, graph
from components.embeds import share_form
from components.ids import Audience
from services.dashboards.periods import ViewState

register_page(__name__, path="/audience", name="Audience", title="Audience · Podcast Analytics", order=14,
              keeps_view=True)


def layout(**query):
    state = ViewState.from_query(query)
    return html.Div([
        dcc.Store(id=Audience.COUNTRY, data=state.country),
        html.Div(html.H1("Audience"), className="page-header"),
        dashboard_controls(Audience, state.with_(country=None), granularity=False),
        html.Div(id=Audience.MESSAGE),
        html.Div([
            chart_card(Audience, "countries", "Countries", graph(Audience.MAP, 420),
                       "Click a country to see its regions (where the location is known)."),
            chart_card(Audience, "regions", "Regions", graph(Audience.REGIONS, 420)),
        ], className="card-grid card-grid-2"),
        html.Div([
            chart_card(Audience, "apps", "Apps", graph(Audience.APPS)),
            chart_card(Audience, "devices", "Device types", graph(Audience.DEVICES)),
            chart_card(Audience, "os", "Operating systems", graph(Audience.OS)),
            chart_card(Audience, "referrers", "Referrers", graph(Audience.REFERRERS)),
        ], className="card-grid"),
        chart_card(Audience, "heatmap", "When they listen: weekday x hour", graph(Audience.HEATMAP, 320),
                   "Downloads by local weekday and hour in the network's time zone (Settings)."),
        share_form(Audience.PREFIX),
    ])
