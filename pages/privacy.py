"""Privacy: export everything the network owns (a zip of CSV files behind a link that expires), the network's own
retention of raw requests and conversions, and deleting the network with all its data; owners and admins export,
only owners change retention or delete."""
from dash import dcc, html, register_page

from components.ids import Privacy
from services.retention_settings import CONVERSION_MAX_DAYS, MIN_DAYS, RAW_MAX_DAYS

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
            html.H2("Retention"),
            html.P(f"How many days raw requests ({MIN_DAYS}-{RAW_MAX_DAYS}) and conversions ({MIN_DAYS}-"
                   f"{CONVERSION_MAX_DAYS}) are kept; empty keeps the default (raw requests {RAW_MAX_DAYS} days, "
                   "conversions as the deployment sets). Raw requests go only once they are counted; counted "
                   "downloads and rollups stay. The daily retention job applies it. Owners only.", className="muted"),
            html.Div([
                html.Div([html.Label("Raw requests (days)", htmlFor=Privacy.RAW_DAYS),
                          dcc.Input(id=Privacy.RAW_DAYS, type="text", inputMode="numeric", className="text-input",
                                    maxLength=5, placeholder=f"default ({RAW_MAX_DAYS})")], className="control"),
                html.Div([html.Label("Conversions (days)", htmlFor=Privacy.CONVERSION_DAYS),
                          dcc.Input(id=Privacy.CONVERSION_DAYS, type="text", inputMode="numeric",
                                    className="text-input", maxLength=5, placeholder="default")], className="control"),
                html.Button("Save retention", id=Privacy.RETENTION_SAVE, className="primary-button"),
            ], className="dashboard-controls"),
            html.Div(id=Privacy.RETENTION_STATUS, role="status"),
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
