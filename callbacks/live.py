"""Live page callbacks: every few seconds, the tenant's live view from the web process's live board."""
from __future__ import annotations

from dash import Dash, Input, Output, no_update
from flask import current_app

from api.auth import current_context
from components import kpi, live
from components.ids import Live
from services.errors import ServiceError
from services.live.board import EXTENSION


def refresh_live(_n):
    """Returns (message, KPIs, chart, episodes, apps, countries, recent events)."""
    try:
        view = current_app.extensions[EXTENSION].view_for(current_context())
    except ServiceError as exc:
        return (kpi.message(exc.message),) + (no_update,) * 6
    return (None, live.live_kpis(view), live.minutes_figure(view),
            live.top_table("Episodes right now", "Episode", view.episodes),
            live.top_table("Apps right now", "App", view.apps),
            live.top_table("Countries right now", "Country", view.countries),
            live.recent_table(view.recent))


def register(app: Dash) -> None:
    app.callback(Output(Live.MESSAGE, "children"), Output(Live.KPIS, "children"), Output(Live.CHART, "figure"),
                 Output(Live.EPISODES, "children"), Output(Live.APPS, "children"),
                 Output(Live.COUNTRIES, "children"), Output(Live.RECENT, "children"),
                 Input(Live.POLL, "n_intervals"))(refresh_live)
