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
