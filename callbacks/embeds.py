"""Embeds callbacks: each dashboard page's "Share / embed" form (open it for the clicked chart, create the embed with
the page's current filters, show the iframe snippet) and the Embeds page (list, revoke, delete)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from dash import ALL, Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import app_state, current_db
from callbacks.dashboard import control_states, view_state
from components import kpi
from components.embeds import embeds_table, snippet_panel
from components.ids import Audience, CampaignPage, EmbedsPage, EpisodePage, Overview, PodcastPage
from components.share import SHARE, ShareIds
from services.sharing import store
from services.sharing.filters import describe
from services.errors import ServiceError, ValidationError
from services.models.base import utcnow

logger = logging.getLogger(__name__)

HIDDEN, SHOWN = {"display": "none"}, {}


def embed_url(embed_id: int) -> str:
    settings = app_state().settings
    return f"{settings.public_base_url}/embed/{store.embed_token(embed_id, settings.embed_keys)}"


def view_filters(preset, start, end, compare, podcast, granularity) -> dict:
    """A dashboard page's controls as an embed's filters (the same validation as the page's URL)."""
    state = view_state(preset, start, end, compare, podcast, granularity)
    filters = {"period": state.range, "podcast": state.podcast, "granularity": state.granularity,
               "compare": state.compare}
    if state.range == "custom":
        filters.update(period="fixed", **{"from": state.start.isoformat(), "to": state.end.isoformat()})
    return filters


def episode_filters(episode_id) -> dict:
    return {"episode": episode_id}


def campaign_filters(campaign_id) -> dict:
    return {"campaign": campaign_id}


def make_share_form(filters_from: Callable[..., dict]) -> Callable:
    """One page's share form: a share button opens it for its chart, Create makes the embed with the page's current
    filters and shows the snippet (or why not), Close hides it. Returns (style, chart, result)."""

    def share_form(_share_clicks, _close, _create, chart, theme, title, expiry_days, origins, *page_values):
        trigger = ctx.triggered_id
        clicked = bool(ctx.triggered and ctx.triggered[0].get("value"))
        if isinstance(trigger, dict) and trigger.get("type") == SHARE and clicked:
            return SHOWN, trigger["chart"], None
        if isinstance(trigger, str) and trigger.endswith("-embed-close"):
            return HIDDEN, no_update, no_update
        if isinstance(trigger, str) and trigger.endswith("-embed-create") and clicked and chart:
            return no_update, no_update, create_from_page(chart, theme, title, expiry_days, origins,
                                                          filters_from(*page_values))
        raise PreventUpdate  # the buttons appearing, not a click

    return share_form


def create_from_page(chart, theme, title, expiry_days, origins, page_filters: dict):
    """The snippet panel for a new embed of `chart`, or the reason it was not created."""
    filters = {k: v for k, v in page_filters.items() if v is not None}
    if chart != "downloads_timeline":
        filters.pop("granularity", None)
        filters.pop("compare", None)
    if chart in ("episode_launch", "campaign_delivery", "campaign_attribution"):
        for key in ("period", "from", "to", "podcast"):
            filters.pop(key, None)
    expires_at = utcnow() + timedelta(days=int(expiry_days)) if expiry_days else None
    try:
        info = store.create_embed(current_db(), current_context(), {
            "chart": chart, "filters": filters, "theme": theme, "title": title or "", "expires_at": expires_at,
            "allowed_origins": origins or ""})
    except ValidationError as exc:
        details = "; ".join(f"{name}: {text}" for name, text in exc.fields.items())
        return kpi.message(f"Not created. {details or exc.message}")
    except ServiceError as exc:
        return kpi.message(exc.message)
    return snippet_panel(embed_url(info.id), info.title)


def register_share(app: Dash, prefix: str, states: list[State], filters_from: Callable[..., dict]) -> None:
    ids = ShareIds(prefix)
    app.callback(Output(ids.BOX, "style"), Output(ids.CHART, "data"), Output(ids.RESULT, "children"),
                 Input({"type": SHARE, "page": prefix, "chart": ALL}, "n_clicks"), Input(ids.CLOSE, "n_clicks"),
                 Input(ids.CREATE, "n_clicks"), State(ids.CHART, "data"), State(ids.THEME, "value"),
                 State(ids.TITLE, "value"), State(ids.EXPIRY, "value"), State(ids.ORIGINS, "value"), *states,
                 prevent_initial_call=True)(make_share_form(filters_from))


def manage_embeds(_refresh, _revoke_clicks, _delete_clicks):
    """Revoke or delete (whichever was clicked), then list; returns (table, message)."""
    db, message = current_db(), None
    try:
        tenant_ctx = current_context()
        trigger = ctx.triggered_id if ctx.triggered else None
        clicked = bool(ctx.triggered and ctx.triggered[0].get("value"))
        if isinstance(trigger, dict) and clicked and trigger.get("type") == EmbedsPage.REVOKE:
            store.revoke_embed(db, tenant_ctx, int(trigger["index"]))
            message = kpi.message("Embed revoked: its link now says so.", "info")
        elif isinstance(trigger, dict) and clicked and trigger.get("type") == EmbedsPage.DELETE:
            store.delete_embed(db, tenant_ctx, int(trigger["index"]))
            message = kpi.message("Embed deleted.", "info")
        rows = [{"info": info, "url": embed_url(info.id), "period": describe(info.filters)}
                for info in store.list_embeds(db, tenant_ctx)]
        can_change = tenant_ctx.is_sponsor or tenant_ctx.can("editor")
    except ServiceError as exc:
        return None, kpi.message(exc.message)
    return embeds_table(rows, EmbedsPage.REVOKE, EmbedsPage.DELETE, can_change), message


def register(app: Dash) -> None:
    for ids in (Overview, PodcastPage, Audience):
        register_share(app, ids.PREFIX, control_states(ids), view_filters)
    register_share(app, EpisodePage.PREFIX, [State(EpisodePage.EPISODE, "data")], episode_filters)
    register_share(app, "campaign", [State(CampaignPage.ID, "data")], campaign_filters)
    app.callback(Output(EmbedsPage.TABLE, "children"), Output(EmbedsPage.MESSAGE, "children"),
                 Input(EmbedsPage.REFRESH, "data"), Input({"type": EmbedsPage.REVOKE, "index": ALL}, "n_clicks"),
                 Input({"type": EmbedsPage.DELETE, "index": ALL}, "n_clicks"))(manage_embeds)
