"""Episodes grid callbacks: rows for the view, search, the grid's CSV of what it shows, the streaming CSV link,
and opening an episode from a row."""
from __future__ import annotations

from urllib.parse import urlencode

from dash import Dash, Input, Output, Patch, State
from dash.exceptions import PreventUpdate

from api.auth import current_context
from api.state import current_db
from callbacks.dashboard import control_inputs, register_controls, view_state
from components import kpi
from components.controls import empty_state
from components.episodes import COLUMNS, DEFAULT_SORT, grid_rows
from components.ids import Episodes
from services.dashboards import episodes
from services.dashboards.grid_view import GridView
from services.errors import ServiceError

EXPORT_PATH = "/api/v1/exports/episodes.csv"


def update_grid(preset, start, end, compare, podcast, granularity):
    """Returns (row data, message, streaming export link)."""
    if not preset:
        raise PreventUpdate
    state = view_state(preset, start, end, compare, podcast, granularity)
    link = EXPORT_PATH + state.to_query()
    try:
        frame = episodes.episode_grid(current_db(), current_context(), state)
    except ServiceError as exc:
        return [], kpi.message(exc.message), link
    return grid_rows(frame), None if not frame.empty else empty_state(False), link


def sync_url(preset, start, end, compare, podcast, granularity, search, column_state, filter_model):
    """The page's query string: the shared controls' view, then the grid's search, sort and filters."""
    query = view_state(preset, start, end, compare, podcast, granularity).to_query()
    grid = GridView.from_grid(search, column_state, filter_model, COLUMNS).query_pairs(DEFAULT_SORT)
    if not grid:
        return query
    return (query or "?") + ("&" if query else "") + urlencode(grid, safe=",:")


def search_grid(text):
    patch = Patch()
    patch["quickFilterText"] = text or ""
    return patch


def export_grid(clicks):
    if not clicks:
        raise PreventUpdate
    return True


def open_episode(cell, search):
    """A click on a row opens its episode, keeping the view's query string."""
    if not cell or not cell.get("rowId"):
        raise PreventUpdate
    return f"/episodes/{int(cell['rowId'])}{search or ''}"


def register(app: Dash) -> None:
    register_controls(app, Episodes, extra_inputs=(Input(Episodes.SEARCH, "value"), Input(Episodes.GRID, "columnState"),
                                                    Input(Episodes.GRID, "filterModel")), sync_url=sync_url)
    app.callback(Output(Episodes.GRID, "rowData"), Output(Episodes.MESSAGE, "children"),
                 Output(Episodes.STREAM, "href"), *control_inputs(Episodes))(update_grid)
    app.callback(Output(Episodes.GRID, "dashGridOptions"), Input(Episodes.SEARCH, "value"),
                 prevent_initial_call=True)(search_grid)
    app.callback(Output(Episodes.GRID, "exportDataAsCsv"), Input(Episodes.EXPORT, "n_clicks"),
                 prevent_initial_call=True)(export_grid)
    app.callback(Output(Episodes.NAV, "data"), Input(Episodes.GRID, "cellClicked"),
                 State(Episodes.URL, "search"), prevent_initial_call=True)(open_episode)
