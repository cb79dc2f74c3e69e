"""Embeds: the charts shared on other sites, with their views; copy a snippet, revoke or delete one. Sponsor users
see only their sponsor's embeds."""
from dash import dcc, html, register_page

from components.ids import EmbedsPage

register_page(__name__, path="/embeds", name="Embeds", title="Embeds · Podcast Analytics", order=92, portal=True)


def layout(**_kwargs):
    return html.Div([
        dcc.Store(id=EmbedsPage.REFRESH, data=0),
        html.Div(html.H1("Embeds"), className="page-header"),
        html.P(["Charts shared with “Share / embed”. Each link shows one chart with its filters locked; a revoked "
                "or expired link says so instead of the chart. Only the sites listed may frame it."],
               className="muted"),
        html.Div(id=EmbedsPage.MESSAGE),
        dcc.Loading(html.Div(id=EmbedsPage.TABLE)),
    ])
