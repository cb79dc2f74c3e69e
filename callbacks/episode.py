"""Episode page callbacks: header, compare choices, the launch curves with the episode's forecast band, and apps/devices/countries for the period."""
from __future__ import annotations

from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import current_db
from callbacks.dashboard import breakdown_figures, control_inputs, register_controls, register_csv, view_state
from components import charts, kpi
from components.ids import EpisodePage
from services.dashboards import episodes
from services.dashboards.periods import MAX_COMPARE_EPISODES
from services.errors import ServiceError
from services.insights import forecast_store

DIMENSIONS = ("app", "device", "country")


def _launch_frame(db, ctx, state, episode_id=None):
    return forecast_store.launch_curves_with_forecast(db, ctx, int(episode_id), state.episodes)


def _breakdown(dimension):
    def frame(db, ctx, state, episode_id=None):
        return episodes.episode_breakdown(db, ctx, int(episode_id), dimension, state)

    return frame


FRAMES = {"launch": _launch_frame, "apps": _breakdown("app"), "devices": _breakdown("device"),
          "countries": _breakdown("country")}


def episode_header(episode_id):
    """Returns (header, compare options)."""
    if not episode_id:
        raise PreventUpdate
    try:
        db, ctx = current_db(), current_context()
        info = episodes.episode_info(db, ctx, int(episode_id))
        choices = [c for c in episodes.episode_choices(db, ctx) if c["value"] != info.id]
    except ServiceError:
        return html.H1("Episode"), []
    return html.Div([
        html.H1(info.title),
        html.P([dcc.Link(info.podcast, href=f"/podcasts/{info.podcast_id}"),
                f" · released {info.released:%Y-%m-%d}" if info.released else " · not released",
                " · ", dcc.Link("all episodes", href="/episodes")], className="muted"),
    ]), choices


def update_launch(episode_id, compare):
    """Returns (figure, message)."""
    if not episode_id:
        raise PreventUpdate
    picked = tuple(int(e) for e in compare or ())
    note = kpi.message(f"Only the first {MAX_COMPARE_EPISODES} picked episodes are compared.", "info") \
        if len(picked) > MAX_COMPARE_EPISODES else None
    try:
        frame = forecast_store.launch_curves_with_forecast(current_db(), current_context(), int(episode_id),
                                                           picked[:MAX_COMPARE_EPISODES])
    except ServiceError as exc:
        return charts.empty_figure(exc.message), kpi.message(exc.message)
    if frame.empty:
        return charts.empty_figure("No downloads since release yet"), note
    return charts.launch_figure(frame), note


def update_breakdowns(episode_id, preset, start, end, compare, podcast, granularity):
    if not episode_id or not preset:
        raise PreventUpdate
    state = view_state(preset, start, end, compare, None, granularity)
    return breakdown_figures(
        lambda dimension: episodes.episode_breakdown(current_db(), current_context(), int(episode_id), dimension, state),
        DIMENSIONS)


def register(app: Dash) -> None:
    register_controls(app, EpisodePage, extra_inputs=(Input(EpisodePage.COMPARE_EPISODES, "value"),))
    app.callback(Output(EpisodePage.HEADER, "children"), Output(EpisodePage.COMPARE_EPISODES, "options"),
                 Input(EpisodePage.EPISODE, "data"))(episode_header)
    app.callback(Output(EpisodePage.LAUNCH, "figure"), Output(EpisodePage.MESSAGE, "children"),
                 Input(EpisodePage.EPISODE, "data"), Input(EpisodePage.COMPARE_EPISODES, "value"))(update_launch)
    app.callback(Output(EpisodePage.APPS, "figure"), Output(EpisodePage.DEVICES, "figure"),
                 Output(EpisodePage.COUNTRIES, "figure"), Input(EpisodePage.EPISODE, "data"),
                 *control_inputs(EpisodePage))(update_breakdowns)
    register_csv(app, EpisodePage, FRAMES,
                 extra_states=(State(EpisodePage.EPISODE, "data"), State(EpisodePage.COMPARE_EPISODES, "value")),
                 extra_names=("episode_id", "episodes"))
