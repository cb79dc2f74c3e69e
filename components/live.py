"""The Live page's pieces: hits per minute over the last hour, what is downloaded right now, the latest events."""
from __future__ import annotations

from datetime import datetime, timezone

import plotly.graph_objects as go
from dash import html

from components import kpi
from components.charts import figure, short_label
from components.ids import Live
from components.tables import simple_table
from services.live.board import NOW_MINUTES, LiveView


def minutes_figure(view: LiveView) -> go.Figure:
    """Hits (bars) and conversions (line) per minute, the last 60 minutes."""
    x = [moment for moment, _, _ in view.minutes]
    data = [{"type": "bar", "x": x, "y": [hits for _, hits, _ in view.minutes], "name": "Prefix hits",
             "hovertemplate": "%{y} hits at %{x|%H:%M} UTC<extra></extra>"}]
    if any(conversions for _, _, conversions in view.minutes):
        data.append({"type": "scatter", "mode": "lines+markers", "x": x, "name": "Conversions",
                     "y": [conversions for _, _, conversions in view.minutes],
                     "hovertemplate": "%{y} conversions at %{x|%H:%M} UTC<extra></extra>"})
    return figure(data, {"yaxis": {"title": {"text": "per minute"}, "rangemode": "tozero"},
                         "xaxis": {"type": "date"}, "bargap": 0.1, "uirevision": "live"})


def _count_card(label: str, value: int, card_id: str) -> html.Div:
    return html.Div([html.Div(label, className="kpi-label"), html.Div(str(value), className="kpi-value", id=card_id)],
                    className="kpi-card")


def live_kpis(view: LiveView) -> html.Div:
    """Plain counts (never abbreviated: a count that moves by one must show it)."""
    return kpi.kpi_row([
        _count_card("Hits this minute", view.minutes[-1][1] if view.minutes else 0, Live.HITS_MINUTE),
        _count_card(f"Hits, last {NOW_MINUTES} minutes", view.hits_now, Live.HITS_NOW),
        _count_card("Hits, last 60 minutes", sum(hits for _, hits, _ in view.minutes), Live.HITS_HOUR),
        _count_card("Conversions, last 60 minutes", sum(c for _, _, c in view.minutes), Live.CONVERSIONS_HOUR),
    ])


def top_table(heading: str, column: str, rows: list[tuple[str, int]]) -> html.Div:
    return html.Div([html.H2(heading), simple_table([column, "Hits"], [[short_label(name), n] for name, n in rows],
                                                   f"Nothing in the last {NOW_MINUTES} minutes.")],
                    className="live-top")


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%H:%M:%S")


def recent_table(events: list[dict]) -> html.Div | html.P:
    """The latest prefix hits and conversions, newest first; keys are hashes (never IPs or raw User-Agents)."""
    rows = []
    for event in events:
        if event.get("kind") == "conversion":
            value = f" {event['value']} {event['currency']}".rstrip() if event.get("value") else ""
            rows.append([_when(event["t"]), "Conversion", short_label(event.get("sponsor", "")),
                         short_label(f"{event.get('type') or 'conversion'}{value}"), "", "", event.get("key", "")])
        else:
            rows.append([_when(event["t"]), "Hit", short_label(event.get("show", "")),
                         short_label(event.get("episode", "")), event.get("app", ""), event.get("country", ""),
                         event.get("key", "")])
    return simple_table(["Time (UTC)", "Kind", "Show or sponsor", "Episode or event", "App", "Country",
                         "Listener key"], rows, "No hits yet: they show here within seconds of arriving.")
