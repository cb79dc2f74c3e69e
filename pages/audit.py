"""Audit log: who did what and when in the network (logins and failures, keys, campaigns, settings, embeds,
webhooks, imports), with filters and a CSV of exactly what is listed; owners and admins only."""
from dash import dcc, html, register_page

from components.ids import Audit

register_page(__name__, path="/settings/audit", name="Audit log", title="Audit log · Podcast Analytics", order=93)


def layout(**_kwargs):
    return html.Div([
        html.Div([html.H1("Audit log"),
                  html.Button("Download CSV", id=Audit.CSV, className="link-button csv-button",
                              title="Download the entries listed below as CSV"),
                  dcc.Download(id=Audit.DOWNLOAD)], className="page-header"),
        html.P("Newest first. Owners and admins see every change and sign-in in this network; entries are kept "
               "when a user is removed.", className="muted"),
        html.Div([
            html.Div([html.Label("Action", htmlFor=Audit.FAMILY),
                      dcc.Dropdown(id=Audit.FAMILY, placeholder="All actions", clearable=True)], className="control"),
            html.Div([html.Label("User email contains", htmlFor=Audit.WHO),
                      dcc.Input(id=Audit.WHO, type="search", debounce=True, className="text-input",
                                maxLength=200)], className="control"),
            html.Div([html.Label("From (UTC)", htmlFor=Audit.START),
                      dcc.Input(id=Audit.START, type="date", className="text-input")], className="control"),
            html.Div([html.Label("To (UTC)", htmlFor=Audit.END),
                      dcc.Input(id=Audit.END, type="date", className="text-input")], className="control"),
        ], className="dashboard-controls"),
        html.Div(id=Audit.MESSAGE),
        html.P(id=Audit.COUNT, className="muted"),
        dcc.Loading(html.Div(id=Audit.TABLE)),
    ])
