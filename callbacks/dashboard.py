"""Callbacks every dashboard page shares: podcast options, the custom-dates box, the controls -> URL query string
sync (back/forward re-render the page from the URL), and one "Download CSV" callback per page that serialises the
same frame the chart was built from."""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta

import pandas as pd
from dash import MATCH, Dash, Input, Output, State, dcc, no_update
from dash import ctx as dash_ctx
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import current_db
from components import charts
from services.catalog import podcasts
from services.dashboards.common import tenant_today
from services.dashboards.periods import ViewState
from services.errors import ServiceError

logger = logging.getLogger(__name__)

CONTROL_PROPS = (("RANGE", "value"), ("DATES", "start_date"), ("DATES", "end_date"), ("COMPARE", "value"),
                 ("PODCAST", "value"), ("GRANULARITY", "value"))

# A frame builder: (db, ctx, state, **page extras) -> the DataFrame one chart shows.
FrameBuilder = Callable[..., pd.DataFrame]


def _controls(kind, ids) -> list:
    """The shared controls in CONTROL_PROPS order; a page whose podcast comes from its path (the podcast page)
    names a SHOW store in place of the podcast dropdown."""
    show = getattr(ids, "SHOW", None)
    return [kind(show, "data") if name == "PODCAST" and show else kind(getattr(ids, name), prop)
            for name, prop in CONTROL_PROPS]


def control_inputs(ids) -> list[Input]:
    return _controls(Input, ids)


def control_states(ids) -> list[State]:
    return _controls(State, ids)


def view_state(preset, start, end, compare, podcast, granularity, **extra) -> ViewState:
    return ViewState.from_controls(preset, start, end, compare, podcast, granularity, **extra)


def podcast_options(_pathname):
    try:
        return [{"label": p.title, "value": p.id} for p in podcasts.list_podcasts(current_db(), current_context())]
    except ServiceError:
        return []


def custom_dates(preset, start, end):
    """Show the date pickers for a custom range, prefilled with the last 30 days (to today in the tenant's time
    zone) when empty."""
    if preset != "custom":
        return {"display": "none"}, no_update, no_update
    if start and end:
        return None, no_update, no_update
    try:
        today = tenant_today(current_db(), current_context())
    except ServiceError:
        today = date.today()
    return None, (today - timedelta(days=29)).isoformat(), today.isoformat()


def make_url_sync(path_podcast: bool = False) -> Callable:
    def sync_url(preset, start, end, compare, podcast, granularity, *extra):
        state = view_state(preset, start, end, compare, None if path_podcast else podcast, granularity)
        if extra:
            state = state.with_(**_extras(extra))
        return state.to_query()

    return sync_url


def _extras(values) -> dict:
    """Page extras in URL order: the audience's country, the episode page's compared episodes."""
    out = {}
    for value in values:
        if isinstance(value, list):
            out["episodes"] = tuple(int(v) for v in value)[:8]
        elif isinstance(value, str) and len(value) == 2:
            out["country"] = value
    return out


# Opens a page in the app without a reload, as dcc.Link does: push the URL, tell Dash's page router.
NAVIGATE_JS = """function(href) {
    if (!href) { return window.dash_clientside.no_update; }
    window.history.pushState({}, "", href);
    window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
    return true;
}"""


def register_controls(app: Dash, ids, *, extra_inputs: tuple = (), sync_url: Callable | None = None) -> None:
    """The shared controls' callbacks; `sync_url` replaces the controls -> query string function when a page
    keeps more in its URL than the shared controls and extras (the episodes grid's search, sort and filters)."""
    path_podcast = hasattr(ids, "SHOW")
    app.clientside_callback(NAVIGATE_JS, Output(ids.NAV, "clear_data"), Input(ids.NAV, "data"),
                            prevent_initial_call=True)
    app.callback(Output(ids.PODCAST, "options"), Input(ids.URL, "pathname"))(podcast_options)
    app.callback(Output(ids.DATES_BOX, "style"), Output(ids.DATES, "start_date"), Output(ids.DATES, "end_date"),
                 Input(ids.RANGE, "value"), State(ids.DATES, "start_date"), State(ids.DATES, "end_date"))(custom_dates)
    app.callback(Output(ids.URL, "search"), *control_inputs(ids), *extra_inputs)(
        sync_url or make_url_sync(path_podcast))


def csv_download(frames: dict[str, FrameBuilder], extra_names: tuple[str, ...] = ()) -> Callable:
    """The "Download CSV" callback for one page: the clicked chart's frame, exactly as its figure was built."""

    def download(clicks, preset, start, end, compare, podcast, granularity, *extra):
        if not clicks:
            raise PreventUpdate
        chart = dash_ctx.triggered_id["chart"]
        extras = dict(zip(extra_names, extra))
        state = view_state(preset, start, end, compare, podcast, granularity,
                           **{k: v for k, v in extras.items() if k in ("country", "episodes")})
        try:
            frame = frames[chart](current_db(), current_context(), state,
                                  **{k: v for k, v in extras.items() if k not in ("country", "episodes")})
        except ServiceError as exc:
            logger.info("csv export refused: %s", exc.message)
            raise PreventUpdate from None
        return dcc.send_data_frame(frame.to_csv, f"{chart}.csv", index=False)

    return download


def register_csv(app: Dash, ids, frames: dict[str, FrameBuilder], extra_states: tuple = (),
                 extra_names: tuple[str, ...] = ()) -> None:
    app.callback(Output({"type": "csv-download", "page": ids.PREFIX, "chart": MATCH}, "data"),
                 Input({"type": "csv-button", "page": ids.PREFIX, "chart": MATCH}, "n_clicks"),
                 *control_states(ids), *extra_states, prevent_initial_call=True)(csv_download(frames, extra_names))


def breakdown_figures(read, dimensions) -> tuple:
    """One bar figure per dimension from `read(dimension)` (a frame); a service error or an empty frame becomes
    that chart's message, so one failing breakdown never blanks the others."""
    figures = []
    for dimension in dimensions:
        try:
            frame = read(dimension)
        except ServiceError as exc:
            figures.append(charts.empty_figure(exc.message))
            continue
        figures.append(charts.bar_figure(frame, dimension) if not frame.empty
                       else charts.no_downloads_figure())
    return tuple(figures)
