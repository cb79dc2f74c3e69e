"""Figures for the dashboards, built from the DataFrames the services return."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from components.theme import TEMPLATE_NAME


def downloads_over_time(frame: pd.DataFrame, title: str = "Downloads per day") -> go.Figure:
    """Stacked daily downloads per podcast; frame has day, podcast, downloads."""
    fig = go.Figure(layout={"template": TEMPLATE_NAME, "title": {"text": title, "x": 0}})
    for podcast, rows in frame.groupby("podcast", sort=True):
        fig.add_trace(go.Bar(x=rows["day"], y=rows["downloads"], name=str(podcast)))
    fig.update_layout(barmode="stack", yaxis_title="downloads")
    return fig


def empty_figure(message: str) -> go.Figure:
    fig = go.Figure(layout={"template": TEMPLATE_NAME})
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _layout(title: str | None = None, **extra) -> dict:
    return {"template": TEMPLATE_NAME, **({"title": {"text": title, "x": 0}} if title else {}), **extra}


def timeline_figure(frame: pd.DataFrame, granularity: str = "day") -> go.Figure:
    """Downloads per bucket (bars), the comparison period (line) and episode releases (markers); frame from
    services.dashboards.overview.downloads_timeline: period, downloads, [previous_downloads], releases."""
    fig = go.Figure(layout=_layout(yaxis_title="downloads", bargap=0.15))
    fig.add_trace(go.Bar(x=frame["period"], y=frame["downloads"], name="Downloads",
                         hovertemplate="%{y:,} downloads<extra></extra>"))
    if "previous_downloads" in frame:
        fig.add_trace(go.Scatter(x=frame["period"], y=frame["previous_downloads"], name="Comparison period",
                                 mode="lines", line={"dash": "dot", "width": 2},
                                 hovertemplate="%{y:,} in the comparison period<extra></extra>"))
    released = frame[frame["releases"] != ""]
    if not released.empty:
        fig.add_trace(go.Scatter(x=released["period"], y=released["downloads"], name="Episode released",
                                 mode="markers", marker={"symbol": "triangle-down", "size": 11, "color": "#D55E00"},
                                 customdata=released["releases"], hovertemplate="%{customdata}<extra>released</extra>"))
    fig.update_xaxes(type="date")
    return fig


def bar_figure(frame: pd.DataFrame, key: str, title: str | None = None, value: str = "downloads",
               horizontal: bool = True) -> go.Figure:
    """One bar per row of frame (key, value), most first; horizontal for ranked lists."""
    labels = frame[key].astype(str)
    fig = go.Figure(layout=_layout(title, hovermode="closest"))
    if horizontal:
        fig.add_trace(go.Bar(x=frame[value], y=labels, orientation="h", name=value,
                             hovertemplate="%{y}: %{x:,}<extra></extra>"))
        fig.update_yaxes(autorange="reversed", automargin=True, type="category")
        fig.update_xaxes(title=value)
    else:
        fig.add_trace(go.Bar(x=labels, y=frame[value], name=value, hovertemplate="%{x}: %{y:,}<extra></extra>"))
        fig.update_xaxes(type="category")
        fig.update_yaxes(title=value)
    fig.update_layout(showlegend=False, margin={"l": 8})
    return fig


def launch_figure(frame: pd.DataFrame) -> go.Figure:
    """Cumulative downloads by day since release, one line per series; benchmarks dashed."""
    fig = go.Figure(layout=_layout(xaxis_title="day since release", yaxis_title="cumulative downloads",
                                   hovermode="x unified"))
    styles = {"median": {"dash": "dash", "color": "#616e7c"}, "average": {"dash": "dot", "color": "#616e7c"},
              "best": {"dash": "dashdot", "color": "#009E73"}}
    for series, rows in frame.groupby("series", sort=False):
        kind = rows["kind"].iloc[0]
        fig.add_trace(go.Scatter(x=rows["day"], y=rows["downloads"], name=str(series), mode="lines",
                                 line={"width": 3 if kind == "episode" else 2, **styles.get(kind, {})}))
    return fig


def world_map(frame: pd.DataFrame) -> go.Figure:
    """Choropleth of downloads by country (frame: country, downloads, listeners); click a country to drill down."""
    from components.countries import alpha3

    located = frame.assign(iso3=frame["country"].map(alpha3)).dropna(subset=["iso3"])
    fig = go.Figure(layout=_layout(hovermode="closest", margin={"l": 0, "r": 0, "t": 8, "b": 0}))
    fig.add_trace(go.Choropleth(locations=located["iso3"], z=located["downloads"], customdata=located["country"],
                                colorscale="Blues", marker_line_color="white", colorbar_title="downloads",
                                hovertemplate="%{customdata}: %{z:,} downloads<extra></extra>"))
    fig.update_geos(showframe=False, showcoastlines=False, showland=True, landcolor="#eef1f4", showcountries=True,
                    countrycolor="white", projection_type="natural earth")
    return fig


def regions_figure(frame: pd.DataFrame, country: str) -> go.Figure:
    """A country's regions: a state map for the US (region = state code), else ranked bars."""
    if country == "US":
        known = frame[frame["region"] != ""]
        fig = go.Figure(layout=_layout(hovermode="closest", margin={"l": 0, "r": 0, "t": 8, "b": 0}))
        fig.add_trace(go.Choropleth(locations=known["region"], z=known["downloads"], locationmode="USA-states",
                                    colorscale="Blues", colorbar_title="downloads",
                                    hovertemplate="%{location}: %{z:,} downloads<extra></extra>"))
        fig.update_geos(scope="usa")
        return fig
    return bar_figure(frame.assign(region=frame["region"].replace("", "unknown")), "region")


def heatmap_figure(frame: pd.DataFrame, tz: str = "UTC") -> go.Figure:
    """Downloads by weekday (rows, Mon first) x hour (columns) in the tenant's time zone."""
    grid = frame.pivot(index="weekday", columns="hour", values="downloads")
    grid = grid.reindex(list(dict.fromkeys(frame["weekday"])))
    fig = go.Figure(layout=_layout(xaxis_title=f"hour ({tz})", hovermode="closest"))
    fig.add_trace(go.Heatmap(z=grid.to_numpy(), x=list(grid.columns), y=list(grid.index), colorscale="Blues",
                             hovertemplate="%{y} %{x}:00 · %{z:,} downloads<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(dtick=2)
    return fig
