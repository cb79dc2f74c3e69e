"""Matchmaking callbacks: the campaign page's Recommendations panel (Recompute and Save weights act first; Add
placement adds from a recommendation) and the podcast page's Sponsors for this show. Sponsor users get neither:
the service answers NotFound for them, and the panel stays hidden."""
from __future__ import annotations

from dash import ALL, Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import current_db
from components import kpi
from components.campaigns import placements_table
from components.ids import CampaignMatch as M, CampaignPage, PodcastMatch, PodcastPage
from components.matchmaking import FACTOR_LABELS, computed_line, excluded_table, recommendation_table
from jobs.campaigns import refresh_campaign_delivery
from jobs.queues import enqueue
from services.errors import ServiceError, ValidationError
from services.sponsorship import match_weights, matchmaking, placements

HIDDEN, SHOWN = {"display": "none"}, {}
FACTORS = tuple(FACTOR_LABELS)
N_PANEL = 7  # outputs before the weight values and messages


def _clicked() -> bool:
    return bool(ctx.triggered and ctx.triggered[0].get("value"))


def _act(db, tenant_ctx, campaign_id, trigger, weight_values) -> tuple:
    """Run the clicked action; returns (message, weight field messages)."""
    if trigger == M.RECOMPUTE and _clicked():
        matchmaking.recompute_for(db, tenant_ctx, campaign_id)
        return kpi.message("Recommendations recomputed.", "info"), {}
    if trigger == M.SAVE_WEIGHTS and _clicked():
        try:
            match_weights.save_weights(db, tenant_ctx, dict(zip(FACTORS, weight_values)))
        except ValidationError as exc:
            return kpi.message("Weights not saved: check the fields marked."), exc.fields
        return kpi.message("Weights saved; the ranking uses them now.", "info"), {}
    return None, {}


def _panel(result, message) -> tuple:
    add = M.ADD if result.can_add else None
    return (SHOWN, message, computed_line(result.computed_at, result.weights), recommendation_table(result.ranked, add),
            excluded_table(result.excluded), SHOWN if result.can_add else HIDDEN,
            SHOWN if result.can_weigh else HIDDEN)


def recommendations_view(campaign_id, _recompute, _save, *weight_values):
    if campaign_id is None:
        raise PreventUpdate
    db, trigger = current_db(), ctx.triggered_id if ctx.triggered else None
    try:
        tenant_ctx = current_context()
        try:
            message, errors = _act(db, tenant_ctx, campaign_id, trigger, weight_values)
        except ServiceError as exc:
            message, errors = kpi.message(exc.message), {}
        result = matchmaking.campaign_recommendations(db, tenant_ctx, campaign_id)
    except ServiceError:  # a sponsor user, or a campaign not theirs to see: no panel at all
        return (HIDDEN, *[None] * (N_PANEL - 3), HIDDEN, HIDDEN, *[no_update] * len(FACTORS),
                *[None] * (len(FACTORS) + 1))
    values = [no_update] * len(FACTORS) if errors else [f"{result.weights[n]:g}" for n in FACTORS]
    return (*_panel(result, message), *values, *[errors.get(n) for n in FACTORS], errors.get("weights"))


def add_from_recommendation(_adds, campaign_id):
    """Add placement: a show-wide placement over the flight through the placement form's validation; the panel and
    the Placements table then show it."""
    if not _clicked() or campaign_id is None:
        raise PreventUpdate
    podcast_id = int(ctx.triggered_id["index"])
    db = current_db()
    try:
        tenant_ctx = current_context()
        row = matchmaking.add_recommended_placement(db, tenant_ctx, campaign_id, podcast_id)
    except ServiceError as exc:
        return kpi.message("The placement was not added: " + exc.message), no_update, no_update, no_update
    enqueue(refresh_campaign_delivery, tenant_ctx.tenant_id, campaign_id, queue="measure")
    result = matchmaking.campaign_recommendations(db, tenant_ctx, campaign_id)
    lines = placements.list_placements(db, tenant_ctx, campaign_id)
    return (kpi.message(f"Placement added on {row.podcast}; delivery is being measured.", "info"),
            recommendation_table(result.ranked, M.ADD if result.can_add else None),
            excluded_table(result.excluded), placements_table(lines, CampaignPage.REMOVE))


def sponsors_view(podcast_id):
    """The podcast page's Sponsors for this show (tenant staff)."""
    if podcast_id is None:
        raise PreventUpdate
    try:
        rows = matchmaking.sponsor_recommendations(current_db(), current_context(), int(podcast_id))
    except ServiceError:
        return HIDDEN, None, None
    ranked = [r for r in rows if r.excluded_because is None]
    excluded = [r for r in rows if r.excluded_because is not None]
    return (SHOWN, recommendation_table(ranked, campaign_column=True),
            excluded_table(excluded, campaign_column=True))


def register(app: Dash) -> None:
    app.callback(
        Output(M.BOX, "style"), Output(M.MESSAGE, "children"), Output(M.COMPUTED, "children"),
        Output(M.LIST, "children"), Output(M.EXCLUDED, "children"), Output(M.RECOMPUTE, "style"),
        Output(M.WEIGHTS_BOX, "style"),
        [Output(M.WEIGHT + name, "value") for name in FACTORS],
        [Output(M.WEIGHT_ERROR + name, "children") for name in (*FACTORS, "weights")],
        Input(CampaignPage.ID, "data"), Input(M.RECOMPUTE, "n_clicks"), Input(M.SAVE_WEIGHTS, "n_clicks"),
        *[State(M.WEIGHT + name, "value") for name in FACTORS],
    )(recommendations_view)
    app.callback(
        Output(M.MESSAGE, "children", allow_duplicate=True), Output(M.LIST, "children", allow_duplicate=True),
        Output(M.EXCLUDED, "children", allow_duplicate=True),
        Output(CampaignPage.PLACEMENTS, "children", allow_duplicate=True),
        Input({"type": M.ADD, "index": ALL}, "n_clicks"), State(CampaignPage.ID, "data"), prevent_initial_call=True,
    )(add_from_recommendation)
    app.callback(Output(PodcastMatch.BOX, "style"), Output(PodcastMatch.LIST, "children"),
                 Output(PodcastMatch.EXCLUDED, "children"), Input(PodcastPage.SHOW, "data"))(sponsors_view)
