"""Privacy: export everything the network owns (a zip of CSV files behind a link that expires), and delete the
network with all its data; owners and admins export, only owners delete."""
from dash import dcc, html, register_page

from components.ids import Privacy

register_page(__name__, path="/settings/privacy", name="Export and deletion",
              title="Export and deletion · Podcast Analytics", order=94)


def layout(**_kwargs):
    return html.Div([
        html.Div(html.H1("Export and deletion"), className="page-header"),
        html.Section([
            html.H2("Export the network's data"),
            html.P("A zip with one CSV per table of everything this network owns (podcasts, episodes, raw requests, "
                   "downloads, rollups, sponsors, campaigns, conversions, settings, audit log) and its members. "
                   "The download link works for 24 hours, for owners and admins of this network.",
                   className="muted"),
            html.Button("Start export", id=Privacy.EXPORT, className="primary-button"),
            dcc.Store(id=Privacy.EXPORT_JOB),
            dcc.Interval(id=Privacy.EXPORT_POLL, interval=700, disabled=True),
            html.Progress(id=Privacy.EXPORT_PROGRESS, max=1, value=0, className="progress",
                          **{"aria-label": "Export progress"}),
            html.Div(id=Privacy.EXPORT_STATUS, role="status"),
        ], className="chart-card"),
        html.Section([
            html.H2("Delete the network"),
            html.P("Removes every row of this network in every table, time series included, and the accounts that "
                   "belong to no other network. It cannot be undone: export first.", className="muted"),
            html.Label("Type the network's slug to confirm", htmlFor=Privacy.SLUG),
            dcc.Input(id=Privacy.SLUG, className="text-input", maxLength=100, autoComplete="off"),
            html.Button("Delete this network", id=Privacy.DELETE, className="primary-button danger-button"),
            html.Div(id=Privacy.DELETE_STATUS, role="status"),
        ], className="chart-card"),
    ])
