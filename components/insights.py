"""Insights builders: the "This week" summary card, anomaly markers on the downloads timeline, the anomalies table
and the insights page's sections. Pure: frames and summaries in, components out."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from components.controls import chart_card
from components.tables import simple_table
from services.insights.summaries import cause_text

KIND_LABELS = {"spike": "Spike", "drop": "Drop", "gap": "Gap"}
MARKER_COLOR = "#CC79A7"


def summary_card(summary, title: str = "This week") -> html.Section:
    """The written summary with where it came from (template or language model)."""
    writer = "written from the figures by a language model, numbers checked" if summary.writer == "llm" \
        else "written from the figures"
    return html.Section([
        html.Div(html.H2(title), className="card-header"),
        html.P(summary.text, className="insight-summary"),
        html.P(f"{summary.first:%b %d} to {summary.last:%b %d} · {writer}", className="muted card-note"),
    ], className="chart-card insight-card")


def cause_label(cause: str | None) -> str:
    return cause_text(cause) or ""


def dimension_label(dimension: str) -> str:
    kind, _, value = dimension.partition(":")
    return {"downloads": "downloads", "requests": "raw requests", "bot_requests": "bot-filtered requests",
            "app": f"app {value}", "country": f"country {value}"}.get(kind, dimension)


def with_anomaly_markers(fig: go.Figure, timeline: pd.DataFrame, anomalies: pd.DataFrame,
                         granularity: str) -> go.Figure:
    """Mark each bucket of the timeline that holds a show-level anomaly (hour buckets are not marked: anomalies
    are per day). `timeline`: period, downloads; `anomalies`: list_anomalies' frame."""
    shows = anomalies[anomalies["dimension"] == "downloads"] if not anomalies.empty else anomalies
    if shows.empty or granularity == "hour" or timeline.empty:
        return fig
    days = pd.to_datetime(shows["day"])
    buckets = days if granularity == "day" else days.dt.to_period("W-SUN" if granularity == "week" else "M").dt.start_time
    labels = [f"{row.podcast}: {KIND_LABELS.get(row.kind, row.kind).lower()} on {row.day:%b %d}, "
              f"{row.value:,.0f} vs {row.expected:,.0f} expected" + (f" ({cause_label(row.cause)})" if row.cause else "")
              for row in shows.itertuples()]
    marks = pd.DataFrame({"period": buckets.to_numpy(), "label": labels}).groupby("period")["label"].agg("<br>".join)
    heights = timeline.set_index("period")["downloads"]
    marks = marks[marks.index.isin(heights.index)]
    if marks.empty:
        return fig
    fig.add_trace(go.Scatter(x=list(marks.index), y=[heights[p] for p in marks.index], mode="markers",
                             name="Anomaly", customdata=list(marks.values),
                             marker={"symbol": "x", "size": 12, "color": MARKER_COLOR, "line": {"width": 1}},
                             hovertemplate="%{customdata}<extra>anomaly</extra>"))
    return fig


def anomalies_table(frame: pd.DataFrame) -> html.Table | html.P:
    rows = [[f"{row.day:%Y-%m-%d}", row.podcast, dimension_label(row.dimension), KIND_LABELS.get(row.kind, row.kind),
             f"{row.value:,.0f}", f"{row.expected:,.0f}", cause_label(row.cause)] for row in frame.itertuples()]
    return simple_table(["Day", "Show", "Series", "Kind", "Value", "Expected", "Known cause"], rows,
                        empty="No anomalies in this period.")


def insights_sections(ids) -> list:
    return [
        html.Div(id=ids.MESSAGE),
        dcc.Loading(html.Div(id=ids.SUMMARY), type="dot", delay_show=150),
        chart_card(ids, "anomalies", "Anomalies", html.Div(id=ids.TABLE),
                   "Days far from the same weekday's usual level (median of the four weeks before, judged against "
                   "the usual spread); apps and countries by their share of the show. Known causes are named when "
                   "the data shows them."),
    ]
