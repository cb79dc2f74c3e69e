"""Campaigns list callbacks: the list (a sponsor user's own only), the create form (messages beside the fields),
and a campaign's tracking links and promo-code uploads."""
from __future__ import annotations

from dash import Dash, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import app_state, current_db
from components import kpi
from components.campaigns import CAMPAIGN_FIELDS, campaigns_table
from components.forms import value_prop
from components.ids import CampaignInputs, Campaigns
from components.pixel import links_table, promo_result
from services.sponsorship import campaigns, delivery, sponsors
from jobs.attribution import conversions_arrived
from services.errors import ServiceError, ValidationError
from services.sponsorship.attribution import links, promo_upload

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


def inputs_choices(_table):
    """The campaigns whose links and promo codes this user manages (editors and above), and whether the panel shows;
    read again whenever the list is (so a campaign just created is there)."""
    try:
        tenant_ctx = current_context()
        if not tenant_ctx.can("editor") or tenant_ctx.is_sponsor:
            return [], HIDDEN
        rows = campaigns.list_campaigns(current_db(), tenant_ctx)
    except ServiceError:
        return [], HIDDEN
    return [{"label": f"{c.name} ({c.sponsor})", "value": c.id} for c in rows], SHOWN


def links_view(campaign_id, create_clicks, label):
    """Returns the campaign's links, the message, and the label's message; Create adds one first."""
    if not campaign_id:
        return None, None, None
    db, message, label_error = current_db(), None, None
    try:
        tenant_ctx = current_context()
        if ctx.triggered_id == CampaignInputs.CREATE_LINK and create_clicks:
            try:
                created = links.create_tracking_link(db, tenant_ctx, int(campaign_id), label)
            except ValidationError as exc:
                label_error = exc.fields.get("label")
                if "landing_url" in exc.fields:
                    message = kpi.message("Set the campaign's landing URL first: the link redirects there.")
                else:
                    message = kpi.message("The link was not created: check the label.")
            else:
                message = kpi.message(f"Created /l/{created.code}.", "info")
        rows = links.list_tracking_links(db, tenant_ctx, int(campaign_id))
    except ServiceError as exc:
        return None, kpi.message(exc.message), None
    return links_table(rows, app_state().settings.public_base_url), message, label_error


def upload_promo_codes(contents, campaign_id):
    """Stores an uploaded promo-code CSV for the chosen campaign's sponsor; says how many rows, or each bad row."""
    if not contents:
        raise PreventUpdate
    if not campaign_id:
        return kpi.message("Choose the campaign first, then upload the file again.")
    try:
        result = promo_upload.import_campaign_promo_upload(current_db(), current_context(), int(campaign_id),
                                                           contents)
    except ServiceError as exc:
        return promo_result(error=exc)
    if result.accepted:  # new orders: the sponsor's campaigns are re-attributed (throttled per sponsor)
        conversions_arrived(current_context().tenant_id, result.sponsor_id)
    return promo_result(result)


def register(app: Dash) -> None:
    app.callback(
        Output(Campaigns.TABLE, "children"), Output(Campaigns.FORM_BOX, "style"), Output(Campaigns.MESSAGE, "children"),
        Output(Campaigns.FIELD + "sponsor_id", "options"),
        [Output(Campaigns.ERROR + name, "children") for name in CAMPAIGN_FIELDS],
        Input(Campaigns.URL, "pathname"), Input(Campaigns.CREATE, "n_clicks"),
        *[State(Campaigns.FIELD + name, value_prop(name)) for name in CAMPAIGN_FIELDS],
    )(campaigns_view)
    app.callback(Output(CampaignInputs.CAMPAIGN, "options"), Output(CampaignInputs.BOX, "style"),
                 Input(Campaigns.TABLE, "children"))(inputs_choices)
    app.callback(Output(CampaignInputs.LINKS, "children"), Output(CampaignInputs.LINK_MESSAGE, "children"),
                 Output(CampaignInputs.LABEL_ERROR, "children"),
                 Input(CampaignInputs.CAMPAIGN, "value"), Input(CampaignInputs.CREATE_LINK, "n_clicks"),
                 State(CampaignInputs.LABEL, "value"))(links_view)
    app.callback(Output(CampaignInputs.UPLOAD_RESULT, "children"), Input(CampaignInputs.UPLOAD, "contents"),
                 State(CampaignInputs.CAMPAIGN, "value"))(upload_promo_codes)
