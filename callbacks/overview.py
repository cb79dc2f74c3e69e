"""Overview callbacks (also one podcast's page): KPI cards with change, downloads over time, top episodes, apps
and countries, and on a podcast's page its forecast; each chart's CSV is the frame it was built from."""
from __future__ import annotations

import logging

from dash import Dash, Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import app_state, current_db
from callbacks.dashboard import control_inputs, register_controls, register_csv, view_state
from components import charts, kpi
from components.forecasts import show_forecast_figure
from components.controls import empty_state
from components.ids import Overview, PodcastPage
from components.insights import with_anomaly_markers
from services.catalog import podcasts
from services.catalog.prefix import prefix_url
from services.dashboards import overview
from services.errors import ServiceError
from services.insights import forecast_store
from services.insights import views

logger = logging.getLogger(__name__)

COMPARE_HINT = {"previous": "vs previous period", "year": "vs previous year", "none": ""}

FRAMES = {
    "timeline": overview.downloads_timeline,
    "top-episodes": overview.top_episodes,
    "top-apps": overview.top_apps,
    "top-countries": overview.top_countries,
}


def _forecast_frame(db, ctx, state):
    return forecast_store.podcast_outlook(db, ctx, state.podcast)


PODCAST_FRAMES = {**FRAMES, "forecast": _forecast_frame}  # the podcast page adds the show's forecast


def update_kpis(preset, start, end, compare, podcast, granularity):
    """Returns (KPI cards, message)."""
    if not preset:
        raise PreventUpdate
    state = view_state(preset, start, end, compare, podcast, granularity)
    try:
        db, ctx = current_db(), current_context()
        k = overview.overview_kpis(db, ctx, state)
        message = None
        if k.current.downloads == 0:
            message = empty_state(bool(podcasts.list_podcasts(db, ctx)))
    except ServiceError as exc:
        return None, kpi.message(exc.message)
    hint = COMPARE_HINT[state.compare]
    cards = kpi.kpi_row([
        kpi.kpi_card("Downloads", k.current.downloads, k.change("downloads"), hint),
        kpi.kpi_card("Listeners (avg per day)", k.current.avg_daily_listeners, k.change("avg_daily_listeners"), hint),
        kpi.kpi_card("Episodes released", k.current.episodes_released, k.change("episodes_released"), hint),
        kpi.kpi_card("Median downloads, first 7 days", k.current.median_7d, k.change("median_7d"), hint),
        kpi.kpi_card("Median downloads, first 30 days", k.current.median_30d, k.change("median_30d"), hint),
    ])
    return cards, message


def update_timeline(preset, start, end, compare, podcast, granularity):
    if not preset:
        raise PreventUpdate
    state = view_state(preset, start, end, compare, podcast, granularity)
    try:
        db, ctx = current_db(), current_context()
        frame = overview.downloads_timeline(db, ctx, state)
        anomalies = views.timeline_anomalies(db, ctx, state)  # stored results: one indexed read
    except ServiceError as exc:
        return charts.empty_figure(exc.message)
    if frame.empty or frame["downloads"].sum() == 0:
        return charts.no_downloads_figure("No downloads in this period yet")
    return with_anomaly_markers(charts.timeline_figure(frame, granularity), frame, anomalies, granularity)


def update_tops(preset, start, end, compare, podcast, granularity):
    """Returns the top episodes, apps and countries figures."""
    if not preset:
        raise PreventUpdate
    state = view_state(preset, start, end, compare, podcast, granularity)
    try:
        db, ctx = current_db(), current_context()
        frames = [overview.top_episodes(db, ctx, state), overview.top_apps(db, ctx, state),
                  overview.top_countries(db, ctx, state)]
    except ServiceError as exc:
        return (charts.empty_figure(exc.message),) * 3
    keys = ("episode", "app", "country")
    return tuple(charts.bar_figure(f, key) if not f.empty else charts.no_downloads_figure()
                 for f, key in zip(frames, keys))


def podcast_header(podcast_id):
    """The podcast page's title, feed status and tracking prefix."""
    try:
        rows = podcasts.list_podcasts(current_db(), current_context())
    except ServiceError as exc:
        return kpi.message(exc.message)
    show = next((p for p in rows if p.id == podcast_id), None)
    if show is None:
        return kpi.message(f"No podcast {podcast_id} here.")
    status = (html.Span(show.feed_error, className="form-error") if show.feed_error else
              f"feed checked {show.feed_checked_at:%Y-%m-%d %H:%M}" if show.feed_checked_at else
              "imported from a file" if not show.feed_url else "feed not checked yet")
    prefix = prefix_url(app_state().settings.public_base_url, show.prefix_key)
    return html.Div([
        html.H1(show.title),
        html.P([f"{show.episodes} episodes · ", status, " · ",
                dcc.Link("all podcasts", href="/podcasts")], className="muted"),
        html.Details([html.Summary("Tracking prefix"), html.P([
            "Put ", html.Code(prefix), " in front of each enclosure URL, without the enclosure's scheme: ",
            html.Code("https://media.example.com/ep1.mp3"), " becomes ", html.Code(f"{prefix}media.example.com/ep1.mp3"),
            "."])], className="prefix-details"),
    ])


def update_forecast(podcast_id):
    """The podcast page's forecast chart: the last 8 weeks, then the next 8 with their 80% interval."""
    if not podcast_id:
        raise PreventUpdate
    try:
        frame = forecast_store.podcast_outlook(current_db(), current_context(), int(podcast_id))
    except ServiceError as exc:
        return charts.empty_figure(exc.message)
    if frame["downloads"].sum() == 0:
        return charts.empty_figure("No downloads to forecast from yet")
    return show_forecast_figure(frame)


def _register_dashboard(app: Dash, ids, frames: dict) -> None:
    register_controls(app, ids)
    inputs = control_inputs(ids)
    app.callback(Output(ids.KPIS, "children"), Output(ids.MESSAGE, "children"), *inputs)(update_kpis)
    app.callback(Output(ids.CHART, "figure"), *inputs)(update_timeline)
    app.callback(Output(ids.TOP_EPISODES, "figure"), Output(ids.TOP_APPS, "figure"),
                 Output(ids.TOP_COUNTRIES, "figure"), *inputs)(update_tops)
    register_csv(app, ids, frames)


def register(app: Dash) -> None:
    _register_dashboard(app, Overview, FRAMES)
    _register_dashboard(app, PodcastPage, PODCAST_FRAMES)
    app.callback(Output(PodcastPage.FORECAST, "figure"), Input(PodcastPage.SHOW, "data"))(update_forecast)
    app.callback(Output(PodcastPage.HEADER, "children"), Input(PodcastPage.SHOW, "data"))(podcast_header)
