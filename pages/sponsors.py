"""Sponsors: the network's advertisers, created and edited in a form that validates in place; archive; invite the
sponsor's users to the portal; each sponsor's conversion pixel (a sponsor user sees its own here)."""
from dash import dcc, html, register_page

from components.campaigns import sponsor_form
from components.forms import field, text_input
from components.ids import SponsorPixel, Sponsors

register_page(__name__, path="/sponsors", name="Sponsors", title="Sponsors · Podcast Analytics", order=30)


def layout(**_kwargs):
    return html.Div([
        dcc.Location(id=Sponsors.URL),
        dcc.Store(id=Sponsors.EDITING),
        html.Div(html.H1("Sponsors"), className="page-header"),
        html.Div(id=Sponsors.MESSAGE),
        html.Div([
            html.H2("New sponsor", id=Sponsors.FORM_BOX + "-title"),
            sponsor_form(Sponsors.FIELD, Sponsors.ERROR),
            html.Div([html.Button("Save sponsor", id=Sponsors.SAVE, className="primary-button"),
                      html.Button("New sponsor instead", id=Sponsors.CANCEL, className="link-button")],
                     className="button-row"),
        ], id=Sponsors.FORM_BOX, className="panel", style={"display": "none"}),
        dcc.Loading(html.Div(id=Sponsors.TABLE)),
        html.Div([
            html.H2("Invite a sponsor's user"),
            html.P("The user signs in to the sponsor portal and sees only this sponsor's campaigns. A new user's "
                   "password is shown once, here.", className="muted"),
            html.Div([
                field("Sponsor", dcc.Dropdown(id=Sponsors.INVITE_SPONSOR, options=[], placeholder="Choose a sponsor"),
                      Sponsors.INVITE_ERROR + "-sponsor"),
                field("Email", text_input(Sponsors.INVITE_EMAIL, "name@sponsor.example"), Sponsors.INVITE_ERROR),
            ], className="form-grid"),
            html.Button("Invite", id=Sponsors.INVITE, className="primary-button"),
            html.Div(id=Sponsors.INVITE_RESULT),
        ], id=Sponsors.INVITE_BOX, className="panel", style={"display": "none"}),
        pixel_box(),
    ])


def pixel_box() -> html.Div:
    return html.Div([
        html.H2("Pixel"),
        html.Div([
            dcc.Dropdown(id=SponsorPixel.SPONSOR, options=[], clearable=False, placeholder="Choose a sponsor",
                         style={"minWidth": "16rem"}),
            html.Button("Refresh", id=SponsorPixel.REFRESH, className="link-button"),
        ], className="button-row"),
        dcc.Loading(html.Div(id=SponsorPixel.BODY)),
    ], id=SponsorPixel.BOX, className="panel", style={"display": "none"})
