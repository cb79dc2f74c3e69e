"""Figures for embedded charts: the dashboards' own figure builders, in the embed's light or dark theme, as JSON
safe to place inside an HTML <script> block."""
from __future__ import annotations

import json

import plotly.graph_objects as go
from plotly.utils import PlotlyJSONEncoder

from components import charts
from components.attribution import lag_figure
from components.campaigns import delivery_figure

CHART_LABELS = {
    "downloads_timeline": "Downloads over time", "top_episodes": "Top episodes", "top_apps": "Top apps",
    "top_countries": "Top countries", "world_map": "Downloads by country", "episode_launch": "Episode launch",
    "campaign_delivery": "Campaign delivery", "campaign_attribution": "Campaign attribution",
}
DARK = {"paper_bgcolor": "#111827", "plot_bgcolor": "#111827", "font": {"color": "#e5e7eb"},
        "xaxis": {"gridcolor": "#374151", "linecolor": "#4b5563"},
        "yaxis": {"gridcolor": "#374151", "linecolor": "#4b5563"},
        "geo": {"bgcolor": "#111827", "landcolor": "#374151", "countrycolor": "#111827"}}


def embed_figure(chart) -> go.Figure:
    """The figure of an EmbedChart (services.sharing.chart_data), as the dashboard page draws it."""
    frame, meta = chart.frame, chart.meta
    if chart.chart == "downloads_timeline":
        return charts.timeline_figure(frame, meta.get("granularity", "day"))
    if chart.chart == "top_episodes":
        return charts.bar_figure(frame, "episode")
    if chart.chart == "top_apps":
        return charts.bar_figure(frame, "app")
    if chart.chart == "top_countries":
        return charts.bar_figure(frame, "country")
    if chart.chart == "world_map":
        return charts.world_map(frame)
    if chart.chart == "episode_launch":
        return charts.launch_figure(frame)
    if chart.chart == "campaign_delivery":
        return delivery_figure(frame, meta["goal"], meta["start"], meta["end"], meta["as_of"])
    return lag_figure(frame, meta["model_label"])


def figure_json(fig: go.Figure, theme: str = "light") -> str:
    """{"data", "layout"} as JSON; `<`, `>` and `&` escaped so the text cannot close its <script> block."""
    body = fig.to_plotly_json()
    layout = dict(body.get("layout") or {})
    layout["autosize"] = True
    layout.pop("height", None)
    if theme == "dark":
        for key, value in DARK.items():
            layout[key] = {**(layout.get(key) or {}), **value} if isinstance(value, dict) else value
            if key == "geo" and "geo" not in (body.get("layout") or {}):
                layout.pop("geo")
    text = json.dumps({"data": body.get("data", []), "layout": layout}, cls=PlotlyJSONEncoder)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def iframe_snippet(url: str, title: str = "", height: int = 420) -> str:
    """The HTML a site pastes to show the embed."""
    label = (title or "Podcast Analytics chart").replace('"', "&quot;").replace("<", "&lt;")
    return (f'<iframe src="{url}" title="{label}" width="100%" height="{height}" style="border:0" '
            f'loading="lazy"></iframe>')
