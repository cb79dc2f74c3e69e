"""Campaigns list callbacks: the list (a sponsor user's own only) and the create form, messages beside the fields."""
from __future__ import annotations

from dash import Dash, Input, Output, State, ctx, dcc, html

from api.auth import current_context
from api.state import current_db
from components import kpi
from components.campaigns import CAMPAIGN_FIELDS, campaigns_table
from components.ids import Campaigns
from services import campaigns, delivery, sponsors
from services.errors import ServiceError, ValidationError

HIDDEN, SHOWN = {"display": "none"}, {}


def campaigns_view(_pathname, create_clicks, *values):
    """Returns table, form visibility, message, sponsor choices, then one message per form field."""
    db, message, errors = current_db(), None, {}
    try:
        tenant_ctx = current_context()
        if ctx.triggered_id == Campaigns.CREATE and create_clicks:
            try:
                created = campaigns.create_campaign(db, tenant_ctx, dict(zip(CAMPAIGN_FIELDS, values)))
            except ValidationError as exc:
                errors = exc.fields
                message = kpi.message("The campaign was not created: check the fields marked below.")
            else:
                message = html.Div(["Created ", dcc.Link(created.name, href=f"/campaigns/{created.id}"),
                                    " as a draft: open it to add placements."], className="message message-info",
                                   role="status")
        rows = delivery.campaign_summaries(db, tenant_ctx)
        manage = tenant_ctx.can("editor") and not tenant_ctx.is_sponsor
        choices = ([{"label": s.name, "value": s.id} for s in sponsors.list_sponsors(db, tenant_ctx, False)]
                   if manage else [])
    except ServiceError as exc:
        return (None, HIDDEN, kpi.message(exc.message), [], *[None] * len(CAMPAIGN_FIELDS))
    return (campaigns_table(rows), SHOWN if manage else HIDDEN, message, choices,
            *[errors.get(name) for name in CAMPAIGN_FIELDS])


def register(app: Dash) -> None:
    app.callback(
        Output(Campaigns.TABLE, "children"), Output(Campaigns.FORM_BOX, "style"), Output(Campaigns.MESSAGE, "children"),
        Output(Campaigns.FIELD + "sponsor_id", "options"),
        [Output(Campaigns.ERROR + name, "children") for name in CAMPAIGN_FIELDS],
        Input(Campaigns.URL, "pathname"), Input(Campaigns.CREATE, "n_clicks"),
        *[State(Campaigns.FIELD + name, "value") for name in CAMPAIGN_FIELDS],
    )(campaigns_view)
