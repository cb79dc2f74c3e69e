"""API keys: create (shown once), list and revoke the tenant's keys for /api/v1 (a sponsor user: their sponsor's)."""
from dash import dcc, html, register_page

from components.ids import ApiKeys

# portal=True: sponsor users manage their own sponsor-scoped keys here.
register_page(__name__, path="/settings/api-keys", name="API keys", title="API keys · Podcast Analytics", order=90,
              portal=True)


def layout(**_kwargs):
    return html.Div([
        html.Div(html.H1("API keys"), className="page-header"),
        html.P(["Send a key as ", html.Code("Authorization: Bearer <key>"), " to ", html.Code("/api/v1"),
                " (reference: ", html.A("/api/docs", href="/api/docs"), "). A key is shown once, when it is created; "
                "admins and owners manage the tenant's keys, and a sponsor user's keys see only their sponsor."],
               className="muted"),
        html.Div([
            dcc.Input(id=ApiKeys.NAME, placeholder="Key name, e.g. reporting", maxLength=200, className="text-input"),
            dcc.Checklist([{"label": "read", "value": "read"}, {"label": "write", "value": "write"}], ["read"],
                          id=ApiKeys.SCOPES, inline=True),
            html.Button("Create key", id=ApiKeys.CREATE, className="primary-button"),
        ], className="form-row"),
        html.Div(id=ApiKeys.MESSAGE),
        html.Div(id=ApiKeys.NEW_KEY),
        dcc.Loading(html.Div(id=ApiKeys.TABLE)),
    ])
