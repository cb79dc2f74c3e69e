"""A show's forecast chart: its recent daily downloads, then the forecast band (components.charts.band_traces)."""
from __future__ import annotations

import pandas as pd

from components.charts import band_traces, figure


def show_forecast_figure(frame: pd.DataFrame):
    """A show's recent daily downloads (bars) and its forecast band after them; frame from
    services.insights.forecast_store.podcast_outlook: day, kind (actual | forecast), downloads, lower, upper."""
    actual, ahead = frame[frame["kind"] == "actual"], frame[frame["kind"] == "forecast"]
    data = [{"type": "bar", "x": actual["day"], "y": actual["downloads"], "name": "Downloads",
             "hovertemplate": "%{y:,} downloads<extra></extra>"}]
    data += band_traces(ahead["day"], ahead["lower"], ahead["upper"], ahead["downloads"])
    return figure(data, {"yaxis": {"title": {"text": "downloads a day"}}, "xaxis": {"type": "date"},
                         "bargap": 0.15, "hovermode": "x unified"})
