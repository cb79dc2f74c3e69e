"""Campaigns: the network's campaigns (a sponsor user's portal: only their own), and the form that creates one."""
from dash import dcc, html, register_page

from components.campaigns import campaign_form
from components.ids import Campaigns

# portal=True: sponsor users see this page in their navigation.
register_page(__name__, path="/campaigns", name="Campaigns", title="Campaigns · Podcast Analytics", order=31,
              portal=True)


def layout(**_kwargs):
    return html.Div([
        dcc.Location(id=Campaigns.URL),
        html.Div(html.H1("Campaigns"), className="page-header"),
        html.Div(id=Campaigns.MESSAGE),
        dcc.Loading(html.Div(id=Campaigns.TABLE)),
        html.Div([
            html.H2("New campaign"),
            html.P("A new campaign starts as a draft; add placements and move it along on its page.",
                   className="muted"),
            campaign_form(Campaigns.FIELD, Campaigns.ERROR),
            html.Button("Create campaign", id=Campaigns.CREATE, className="primary-button"),
        ], id=Campaigns.FORM_BOX, className="panel", style={"display": "none"}),
    ])
