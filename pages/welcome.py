"""Getting started: the checklists (ticked from the network's data) and how to put the prefix in front of the
enclosures at each host."""
from dash import dcc, html, register_page

from components.ids import Welcome

register_page(__name__, path="/welcome", name="Get started", title="Get started · Podcast Analytics", order=96,
              nav=False)


def layout(**_query):
    return html.Div([
        dcc.Location(id=Welcome.URL, refresh=False),
        html.Div(html.H1("Get started"), className="page-header"),
        dcc.Loading(html.Div(id=Welcome.BODY), type="dot"),
    ])
