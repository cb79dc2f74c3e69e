"""Webhooks: a tenant's endpoints (URL, description, event filters, enable/disable, secret rotation) and each
endpoint's delivery log with test events and replay; owners and admins only."""
from dash import dcc, html, register_page

from components.ids import Webhooks
from services.notify.webhooks.endpoints import KNOWN_EVENT_TYPES

register_page(__name__, path="/settings/webhooks", name="Webhooks", title="Webhooks · Podcast Analytics", order=91)


def layout(**_kwargs):
    return html.Div([
        html.Div(html.H1("Webhooks"), className="page-header"),
        html.P(["Events are POSTed as JSON, signed per ",
                html.A("Standard Webhooks", href="https://www.standardwebhooks.com/"),
                " (headers webhook-id, webhook-timestamp, webhook-signature). A failed delivery is retried for about "
                "three days; an endpoint failing for 5 days, or answering 410 Gone, is disabled."], className="muted"),
        html.Div([
            dcc.Input(id=Webhooks.URL, type="url", placeholder="https://example.com/webhooks", maxLength=2000,
                      className="text-input"),
            dcc.Input(id=Webhooks.DESCRIPTION, placeholder="Description", maxLength=500, className="text-input"),
            dcc.Dropdown([{"label": t, "value": t} for t in KNOWN_EVENT_TYPES], [], id=Webhooks.EVENTS, multi=True,
                         placeholder="All events"),
            html.Button("Add endpoint", id=Webhooks.CREATE, className="primary-button"),
        ], className="form-row"),
        html.Div(id=Webhooks.MESSAGE),
        html.Div(id=Webhooks.SECRET),
        dcc.Loading(html.Div(id=Webhooks.TABLE)),
        dcc.Store(id=Webhooks.SELECTED),
        html.H2(id=Webhooks.LOG_TITLE),
        html.Button("Refresh log", id=Webhooks.REFRESH, className="link-button"),
        html.Div(id=Webhooks.LOG_MESSAGE),
        dcc.Loading(html.Div(id=Webhooks.LOG)),
    ])
