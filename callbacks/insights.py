"""Insights callbacks: the period's written summary and anomalies table (stored results only), the anomalies CSV,
and the "This week" summaries shown on the overview, a podcast's page and a campaign's page."""
from __future__ import annotations

import logging

from dash import Dash, Input, Output
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import current_db
from callbacks.dashboard import control_inputs, register_controls, register_csv, view_state
from components import insights as components
from components import kpi
from components.ids import CampaignPage, Insights, Overview, PodcastPage
from services.errors import ServiceError
from services.insights import summaries, views

logger = logging.getLogger(__name__)

FRAMES = {"anomalies": views.anomalies_in_view}


def update_insights(preset, start, end, compare, podcast, granularity):
    """Returns (summary card, anomalies table, message)."""
    if not preset:
        raise PreventUpdate
    state = view_state(preset, start, end, compare, podcast, granularity)
    try:
        db, ctx = current_db(), current_context()
        summary = views.summary_in_view(db, ctx, state)
        frame = views.anomalies_in_view(db, ctx, state)
    except ServiceError as exc:
        return None, None, kpi.message(exc.message)
    return components.summary_card(summary, "Summary"), components.anomalies_table(frame), None


def week_summary(podcast):
    """The "This week" card of the overview (podcast None: the network) or of one podcast's page."""
    try:
        return components.summary_card(views.week_summary(current_db(), current_context(), podcast))
    except ServiceError as exc:
        logger.info("summary not shown: %s", exc.message)
        return None


def campaign_summary(campaign_id):
    """The campaign's "This week" card: only that campaign's figures (a sponsor user sees their own only)."""
    if campaign_id is None:
        raise PreventUpdate
    try:
        return components.summary_card(summaries.get_summary(current_db(), current_context(), "campaign", campaign_id))
    except ServiceError as exc:
        logger.info("campaign summary not shown: %s", exc.message)
        return None


def register(app: Dash) -> None:
    register_controls(app, Insights)
    app.callback(Output(Insights.SUMMARY, "children"), Output(Insights.TABLE, "children"),
                 Output(Insights.MESSAGE, "children"), *control_inputs(Insights))(update_insights)
    register_csv(app, Insights, FRAMES)
    app.callback(Output(Overview.SUMMARY, "children"), Input(Overview.PODCAST, "value"))(week_summary)
    app.callback(Output(PodcastPage.SUMMARY, "children"), Input(PodcastPage.SHOW, "data"))(week_summary)
    app.callback(Output(CampaignPage.SUMMARY, "children"), Input(CampaignPage.ID, "data"))(campaign_summary)
