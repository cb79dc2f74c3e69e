"""Figures for the dashboards, built from the DataFrames the services return."""
from __future__ import annotations

import textwrap

import pandas as pd
import plotly.graph_objects as go

from components.numbers import format_number
from components.theme import TEMPLATE_NAME, template_json

# What to do about an empty chart, by its reason: an empty chart always says why, and what would fill it.
NO_DOWNLOADS = "No downloads in this period"
NO_DOWNLOADS_ACTION = "widen the period, or check that the show's feed carries its tracking prefix"
EMPTY_LINE_CHARS = 40  # an empty chart's advice is broken into lines of at most this
LABEL_CHARS = 40  # a bar's label longer than this is cut (the hover shows it whole)
BAR_ROW_PX, BAR_BASE_PX = 26, 90  # one bar's row, and the axes around them, so labels never crowd each other


def empty_figure(reason: str, action: str | None = None) -> go.Figure:
    """A chart with nothing to draw: the reason, and below it what to do about it, in lines short enough for a
    phone-wide chart (an annotation does not wrap by itself)."""
    if action:
        lines = textwrap.wrap(action[0].upper() + action[1:], EMPTY_LINE_CHARS)
        text = f"{reason}<br><span style='font-size:12px'>{'<br>'.join(lines)}</span>"
    else:
        text = reason
    fig = go.Figure(layout={"template": TEMPLATE_NAME})
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def no_downloads_figure(reason: str = NO_DOWNLOADS) -> go.Figure:
    return empty_figure(reason, NO_DOWNLOADS_ACTION)


def short_label(label: str, limit: int = LABEL_CHARS) -> str:
    """A label cut to `limit` characters, ending in an ellipsis when cut."""
    label = " ".join(str(label).split())
    return label if len(label) <= limit else label[:limit - 1].rstrip() + "…"


def figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure from plain trace and layout dicts with the shared template, skipping Plotly's per-property
    validation: building a validated figure costs 5-40 ms of a callback's server time, this well under 1 ms."""
    return go.Figure({"data": data, "layout": {"template": template_json(), **layout}}, _validate=False)


def _title(title: str | None) -> dict:
    return {"title": {"text": title, "x": 0}} if title else {}


def timeline_figure(frame: pd.DataFrame, granularity: str = "day") -> go.Figure:
    """Downloads per bucket (bars), the comparison period (line) and episode releases (markers); frame from
    services.dashboards.overview.downloads_timeline: period, downloads, [previous_downloads], releases."""
    data = [{"type": "bar", "x": frame["period"], "y": frame["downloads"], "name": "Downloads",
             "customdata": [format_number(v) for v in frame["downloads"]],
             "hovertemplate": "%{customdata} downloads<extra></extra>"}]
    if "previous_downloads" in frame:
        data.append({"type": "scatter", "x": frame["period"], "y": frame["previous_downloads"],
                     "name": "Comparison period", "mode": "lines", "line": {"dash": "dot", "width": 2},
                     "customdata": [format_number(v) for v in frame["previous_downloads"]],
                     "hovertemplate": "%{customdata} in the comparison period<extra></extra>"})
    released = frame[frame["releases"] != ""]
    if not released.empty:
        data.append({"type": "scatter", "x": released["period"], "y": released["downloads"],
                     "name": "Episode released", "mode": "markers",
                     "marker": {"symbol": "triangle-down", "size": 11, "color": "#D55E00"},
                     "customdata": released["releases"], "hovertemplate": "%{customdata}<extra>released</extra>"})
    return figure(data, {"yaxis": {"title": {"text": "downloads"}}, "xaxis": {"type": "date"}, "bargap": 0.15})


def bar_figure(frame: pd.DataFrame, key: str, title: str | None = None, value: str = "downloads",
               horizontal: bool = True) -> go.Figure:
    """One bar per row of frame (key, value), most first; horizontal for ranked lists, one row per bar so labels
    never overlap. Long labels are cut on the axis; the hover shows the whole label and the formatted value."""
    labels = frame[key].astype(str).tolist()
    ticks = [short_label(label) for label in labels]
    hover = [[label, format_number(v)] for label, v in zip(labels, frame[value])]
    template = f"%{{customdata[0]}}<br>%{{customdata[1]}} {value}<extra></extra>"
    if horizontal:
        trace = {"type": "bar", "x": frame[value], "y": labels, "orientation": "h", "name": value,
                 "customdata": hover, "hovertemplate": template}
        axes = {"yaxis": {"autorange": "reversed", "automargin": True, "type": "category", "tickvals": labels,
                          "ticktext": ticks},
                "xaxis": {"title": {"text": value}, "automargin": True},
                "height": BAR_BASE_PX + BAR_ROW_PX * max(len(labels), 6)}
    else:
        trace = {"type": "bar", "x": labels, "y": frame[value], "name": value, "customdata": hover,
                 "hovertemplate": template}
        axes = {"xaxis": {"type": "category", "tickvals": labels, "ticktext": ticks, "automargin": True,
                          "tickangle": -30},
                "yaxis": {"title": {"text": value}, "automargin": True}}
    return figure([trace], {**_title(title), **axes, "hovermode": "closest", "showlegend": False,
                            "margin": {"l": 8, "r": 16, "t": 32, "b": 40}})


FORECAST_BAND = "rgba(0, 114, 178, 0.18)"
FORECAST_LINE = "#0072B2"


def band_traces(x, lower, upper, point, name: str = "Forecast", unit: str = "downloads") -> list[dict]:
    """A forecast's 80% interval as a shaded area and its point forecast as a dashed line: the interval's upper
    edge, its lower edge filled up to it, and the point forecast."""
    edge = {"type": "scatter", "x": x, "mode": "lines", "line": {"width": 0}, "showlegend": False,
            "hoverinfo": "skip"}
    return [
        {**edge, "y": upper, "name": f"{name}: upper"},
        {**edge, "y": lower, "name": f"{name}: 80% interval", "fill": "tonexty", "fillcolor": FORECAST_BAND,
         "showlegend": True},
        {"type": "scatter", "x": x, "y": point, "name": name, "mode": "lines",
         "line": {"dash": "dash", "width": 2, "color": FORECAST_LINE}, "customdata": list(zip(lower, upper)),
         "hovertemplate": f"%{{y:,.0f}} {unit} (80%: %{{customdata[0]:,.0f}}–%{{customdata[1]:,.0f}})"
                          "<extra>forecast</extra>"},
    ]


LAUNCH_STYLES = {"median": {"dash": "dash", "color": "#616e7c"}, "average": {"dash": "dot", "color": "#616e7c"},
                 "best": {"dash": "dashdot", "color": "#009E73"}}


def launch_figure(frame: pd.DataFrame) -> go.Figure:
    """Cumulative downloads by day since release, one line per series; benchmarks dashed; the episode's forecast
    (kind "forecast", with lower and upper) as a band after its actual curve."""
    data = []
    ahead = frame[frame["kind"] == "forecast"]
    for series, rows in frame[frame["kind"] != "forecast"].groupby("series", sort=False):
        kind = rows["kind"].iloc[0]
        data.append({"type": "scatter", "x": rows["day"], "y": rows["downloads"], "name": str(series),
                     "mode": "lines", "line": {"width": 3 if kind == "episode" else 2, **LAUNCH_STYLES.get(kind, {})}})
    if not ahead.empty:
        data += band_traces(ahead["day"], ahead["lower"], ahead["upper"], ahead["downloads"],
                            str(ahead["series"].iloc[0]))
    return figure(data, {"xaxis": {"title": {"text": "day since release"}},
                         "yaxis": {"title": {"text": "cumulative downloads"}}, "hovermode": "x unified"})


MAP_MARGIN = {"l": 0, "r": 0, "t": 8, "b": 0}
# Light to dark (plotly.js's own "Blues" runs the other way; plotly.py's validation would have expanded this list).
BLUES = [[i / 8, c] for i, c in enumerate(("rgb(247,251,255)", "rgb(222,235,247)", "rgb(198,219,239)",
                                            "rgb(158,202,225)", "rgb(107,174,214)", "rgb(66,146,198)",
                                            "rgb(33,113,181)", "rgb(8,81,156)", "rgb(8,48,107)"))]


def world_map(frame: pd.DataFrame) -> go.Figure:
    """Choropleth of downloads by country (frame: country, downloads, listeners); click a country to drill down."""
    from components.countries import alpha3

    located = frame.assign(iso3=frame["country"].map(alpha3)).dropna(subset=["iso3"])
    trace = {"type": "choropleth", "locations": located["iso3"], "z": located["downloads"],
             "customdata": located["country"], "colorscale": BLUES, "marker": {"line": {"color": "white"}},
             "colorbar": {"title": {"text": "downloads"}},
             "hovertemplate": "%{customdata}: %{z:,} downloads<extra></extra>"}
    geo = {"showframe": False, "showcoastlines": False, "showland": True, "landcolor": "#eef1f4",
           "showcountries": True, "countrycolor": "white", "projection": {"type": "natural earth"}}
    return figure([trace], {"geo": geo, "hovermode": "closest", "margin": MAP_MARGIN})


def regions_figure(frame: pd.DataFrame, country: str) -> go.Figure:
    """A country's regions: a state map for the US (region = state code), else ranked bars."""
    if country == "US":
        known = frame[frame["region"] != ""]
        trace = {"type": "choropleth", "locations": known["region"], "z": known["downloads"],
                 "locationmode": "USA-states", "colorscale": BLUES, "colorbar": {"title": {"text": "downloads"}},
                 "hovertemplate": "%{location}: %{z:,} downloads<extra></extra>"}
        return figure([trace], {"geo": {"scope": "usa"}, "hovermode": "closest", "margin": MAP_MARGIN})
    return bar_figure(frame.assign(region=frame["region"].replace("", "unknown")), "region")


def heatmap_figure(frame: pd.DataFrame, tz: str = "UTC") -> go.Figure:
    """Downloads by weekday (rows, Mon first) x hour (columns) in the tenant's time zone."""
    grid = frame.pivot(index="weekday", columns="hour", values="downloads")
    grid = grid.reindex(list(dict.fromkeys(frame["weekday"])))
    trace = {"type": "heatmap", "z": grid.to_numpy(), "x": list(grid.columns), "y": list(grid.index),
             "colorscale": BLUES, "hovertemplate": "%{y} %{x}:00 · %{z:,} downloads<extra></extra>"}
    return figure([trace], {"xaxis": {"title": {"text": f"hour ({tz})"}, "dtick": 2},
                            "yaxis": {"autorange": "reversed", "type": "category"}, "hovermode": "closest"})
