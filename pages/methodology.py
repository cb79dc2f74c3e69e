"""Methodology: how this network's downloads are counted, exactly as applied."""
from dash import dcc, html, register_page

from components.ids import Methodology

register_page(__name__, path="/methodology", name="Methodology", title="Methodology · Podcast Analytics", order=95)


def layout(**_kwargs):
    return html.Div([dcc.Location(id=Methodology.URL), html.Div(html.H1("Methodology"), className="page-header"),
                     dcc.Loading(html.Div(id=Methodology.BODY, className="prose"))])
