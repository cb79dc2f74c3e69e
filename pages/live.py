"""Live: the network's prefix hits and conversions as they arrive (hits per minute, what is downloaded right now,
the latest events), from the live feed; staff only."""
from dash import dcc, html, register_page

from components.ids import Live

register_page(__name__, path="/live", name="Live", title="Live · Podcast Analytics", order=16)

POLL_MS = 3000


def layout(**_kwargs):
    return html.Div([
        html.Div(html.H1("Live"), className="page-header"),
        html.P("Prefix hits and conversions as they arrive, before counting: every request is shown, bots and "
               "repeats included, so these numbers run above counted downloads. Keys are hashed.", className="muted"),
        dcc.Interval(id=Live.POLL, interval=POLL_MS),
        html.Div(id=Live.MESSAGE),
        html.Div(id=Live.KPIS),
        dcc.Graph(id=Live.CHART, config={"displayModeBar": False}),
        html.Div([html.Div(id=Live.EPISODES), html.Div(id=Live.APPS), html.Div(id=Live.COUNTRIES)],
                 className="live-now"),
        html.H2("Latest hits and conversions"),
        html.Div(id=Live.RECENT),
    ])
