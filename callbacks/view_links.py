"""The navigation follows a dashboard's view: when a page's controls change its query string, the links to the other
dashboard pages carry the same period, comparison and podcast (the shell's links are rebuilt on each page change)."""
from __future__ import annotations

from dash import Dash, Input, Output

from callbacks.shell import show_identity
from components.ids import Audience, Episodes, Overview, PodcastPage, Shell

# The pages whose controls write their query string (components/controls.py dashboard_controls).
DASHBOARDS = (Overview, Audience, Episodes, PodcastPage)


def carry_view(search: str | None) -> list:
    """The shell's navigation with its dashboard links opening the view `search` describes."""
    return show_identity(None, search)[2]


def register(app: Dash) -> None:
    for ids in DASHBOARDS:
        app.callback(Output(Shell.NAV, "children", allow_duplicate=True), Input(ids.URL, "search"),
                     prevent_initial_call=True)(carry_view)
