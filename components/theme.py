"""One Plotly template and palette for every figure (colour-blind safe, Okabe-Ito)."""
from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
TEMPLATE_NAME = "podcast"

pio.templates[TEMPLATE_NAME] = go.layout.Template(layout=go.Layout(
    colorway=PALETTE,
    font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13, "color": "#1f2933"},
    paper_bgcolor="white", plot_bgcolor="white",
    margin={"l": 48, "r": 16, "t": 32, "b": 40},
    xaxis={"gridcolor": "#eef1f4", "linecolor": "#cbd2d9"},
    yaxis={"gridcolor": "#eef1f4", "linecolor": "#cbd2d9", "rangemode": "tozero"},
    hovermode="x unified",
    legend={"orientation": "h", "y": -0.18},
))


def template_json() -> dict:
    """The template as plain JSON, for figures built without validation (components.charts.figure)."""
    global _TEMPLATE_JSON
    if _TEMPLATE_JSON is None:
        _TEMPLATE_JSON = pio.templates[TEMPLATE_NAME].to_plotly_json()
    return _TEMPLATE_JSON


_TEMPLATE_JSON: dict | None = None
