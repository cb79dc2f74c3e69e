"""Alerts: the tenant's alert rules (editors and above create, edit, mute and delete them; viewers read), each
rule's state and its history of evaluations."""
from dash import dcc, html, register_page

from components.alerts import Alerts, rule_form

register_page(__name__, path="/alerts", name="Alerts", title="Alerts · Podcast Analytics", order=85)


def layout(**_kwargs):
    return html.Div([
        dcc.Location(id=Alerts.URL),
        dcc.Store(id=Alerts.EDITING),
        html.Div(html.H1("Alerts"), className="page-header"),
        html.P("Rules are evaluated after each count of downloads and at least hourly, from the daily rollups. A "
               "triggered rule notifies once, then again only after its re-arm time while it stays triggered.",
               className="muted"),
        html.Div(id=Alerts.MESSAGE),
        html.Div([
            html.H2("New rule", id=Alerts.FORM_TITLE),
            rule_form(),
            html.Div([html.Button("Save rule", id=Alerts.SAVE, className="primary-button"),
                      html.Button("New rule instead", id=Alerts.CANCEL, className="link-button")],
                     className="button-row"),
        ], id=Alerts.FORM_BOX, className="panel", style={"display": "none"}),
        dcc.Loading(html.Div(id=Alerts.TABLE)),
        html.Div(id=Alerts.HISTORY),
    ])
