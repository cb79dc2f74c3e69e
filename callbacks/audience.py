"""Audience callbacks: map and region drill-down, technology breakdowns, the weekday x hour heatmap."""
from __future__ import annotations

from dash import Dash, Input, Output, State
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import current_db
from callbacks.dashboard import breakdown_figures, control_inputs, register_controls, register_csv, view_state
from components import charts, kpi
from components.controls import empty_state
from components.countries import UNKNOWN_COUNTRY
from components.ids import Audience
from services.catalog import podcasts
from services.dashboards import audience
from services.errors import ServiceError

TECH = (("app", "apps"), ("device", "devices"), ("os", "os"), ("referrer", "referrers"))


def _dimension(dimension):
    def frame(db, ctx, state):
        return audience.breakdown(db, ctx, state, dimension)

    return frame


def _regions(db, ctx, state):
    if not state.country:
        return audience.breakdown(db, ctx, state, "country").iloc[0:0].rename(columns={"country": "region"})
    return audience.breakdown(db, ctx, state, "region")


FRAMES = {"countries": _dimension("country"), "regions": _regions, "heatmap": audience.weekday_hour,
          **{chart: _dimension(dim) for dim, chart in TECH}}


def pick_country(click, current):
    """A click on the map drills into that country; a second click on it goes back to the world."""
    if not click or not click.get("points"):
        raise PreventUpdate
    country = click["points"][0].get("customdata")
    if not country or country == UNKNOWN_COUNTRY:
        raise PreventUpdate
    return None if country == current else country


def update_map(preset, start, end, compare, podcast, granularity):
    """Returns (map figure, message)."""
    if not preset:
        raise PreventUpdate
    try:
        db, ctx = current_db(), current_context()
        frame = audience.breakdown(db, ctx, view_state(preset, start, end, compare, podcast, granularity), "country")
        message = None if not frame.empty else empty_state(bool(podcasts.list_podcasts(db, ctx)))
    except ServiceError as exc:
        return charts.empty_figure(exc.message), kpi.message(exc.message)
    return (charts.world_map(frame) if not frame.empty else charts.no_downloads_figure()), message


def update_regions(country, preset, start, end, compare, podcast, granularity):
    if not preset:
        raise PreventUpdate
    if not country:
        return charts.empty_figure("Click a country on the map")
    try:
        frame = audience.breakdown(current_db(), current_context(),
                                   view_state(preset, start, end, compare, podcast, granularity, country=country),
                                   "region")
    except ServiceError as exc:
        return charts.empty_figure(exc.message)
    if frame.empty:
        return charts.empty_figure(f"No downloads from {country} in this period")
    return charts.regions_figure(frame, country)


def update_tech(preset, start, end, compare, podcast, granularity):
    if not preset:
        raise PreventUpdate
    state = view_state(preset, start, end, compare, podcast, granularity)
    return breakdown_figures(lambda dimension: audience.breakdown(current_db(), current_context(), state, dimension),
                             [dimension for dimension, _chart in TECH])


def update_heatmap(preset, start, end, compare, podcast, granularity):
    if not preset:
        raise PreventUpdate
    state = view_state(preset, start, end, compare, podcast, granularity)
    try:
        frame = audience.weekday_hour(current_db(), current_context(), state)
    except ServiceError as exc:
        return charts.empty_figure(exc.message)
    return charts.heatmap_figure(frame, frame.attrs.get("timezone", "UTC"))


def register(app: Dash) -> None:
    register_controls(app, Audience, extra_inputs=(Input(Audience.COUNTRY, "data"),))
    inputs = control_inputs(Audience)
    app.callback(Output(Audience.COUNTRY, "data"), Input(Audience.MAP, "clickData"), State(Audience.COUNTRY, "data"),
                 prevent_initial_call=True)(pick_country)
    app.callback(Output(Audience.MAP, "figure"), Output(Audience.MESSAGE, "children"), *inputs)(update_map)
    app.callback(Output(Audience.REGIONS, "figure"), Input(Audience.COUNTRY, "data"), *inputs)(update_regions)
    app.callback(Output(Audience.APPS, "figure"), Output(Audience.DEVICES, "figure"), Output(Audience.OS, "figure"),
                 Output(Audience.REFERRERS, "figure"), *inputs)(update_tech)
    app.callback(Output(Audience.HEATMAP, "figure"), *inputs)(update_heatmap)
    register_csv(app, Audience, FRAMES, extra_states=(State(Audience.COUNTRY, "data"),), extra_names=("country",))
