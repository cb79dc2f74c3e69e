"""Overview callbacks: KPI cards and the downloads chart for the chosen period."""
from __future__ import annotations

import logging

from dash import Dash, Input, Output
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import current_db
from components import charts, kpi
from components.ids import Overview
from services import analytics
from services.errors import ServiceError

logger = logging.getLogger(__name__)


def update_overview(days: int | None):
    if not days:
        raise PreventUpdate
    try:
        ctx = current_context()
        summary = analytics.overview_summary(current_db(), ctx, days=int(days))
        frame = analytics.downloads_by_day(current_db(), ctx, days=int(days))
    except ServiceError as exc:
        return None, charts.empty_figure("No data"), kpi.message(exc.message)
    cards = kpi.kpi_row([
        kpi.kpi_card("Downloads", summary.downloads, summary.downloads_change, "vs previous period"),
        kpi.kpi_card("Avg daily listeners", summary.avg_daily_listeners),
        kpi.kpi_card("Episodes released", summary.episodes_released),
        kpi.kpi_card("Podcasts", summary.podcasts),
    ])
    if frame.empty or frame["downloads"].sum() == 0:
        return cards, charts.empty_figure("No downloads in this period yet"), None
    return cards, charts.downloads_over_time(frame), None


def register(app: Dash) -> None:
    app.callback(Output(Overview.KPIS, "children"), Output(Overview.CHART, "figure"),
                 Output(Overview.MESSAGE, "children"), Input(Overview.PERIOD, "value"))(update_overview)
