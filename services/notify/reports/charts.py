"""Report charts: plotly figures drawn server-side to PNG by kaleido (driving a headless Chromium), all of one report
in one browser session, each image checked before it may be sent. Any failure fails the whole report."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

from services.notify.reports.png import InvalidImage, check_chart_png

logger = logging.getLogger(__name__)

WIDTH, HEIGHT = 640, 300
RENDER_TIMEOUT = 60  # seconds for one image
COLOURS = ("#4f46e5", "#a5b4fc", "#0ea5e9", "#f59e0b")


@dataclass(frozen=True)
class Chart:
    cid: str  # the inline image's Content-ID (without <>), referenced as cid:... in the HTML
    title: str
    figure: go.Figure
    width: int = WIDTH
    height: int = HEIGHT


class ChartRenderError(Exception):
    """A chart could not be drawn, or its image failed the checks; the message names the chart."""


Renderer = Callable[[Sequence[Chart], "str | None"], list[bytes]]


def _layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0.02}, template="plotly_white", margin={"l": 60, "r": 20, "t": 50,
                      "b": 50}, font={"family": "Arial, sans-serif", "size": 12}, showlegend=len(fig.data) > 1,
                      legend={"orientation": "h", "y": -0.2})
    return fig


def bar_chart(cid: str, title: str, labels: Sequence, values: Sequence, name: str = "", horizontal: bool = False,
              line: tuple[str, Sequence] | None = None) -> Chart:
    """A bar chart (labels along x, or down y when horizontal), with an optional line series over the same labels."""
    labels, values = [str(v) for v in labels], [float(v) for v in values]
    bar = (go.Bar(y=labels[::-1], x=values[::-1], orientation="h", name=name, marker_color=COLOURS[0]) if horizontal
           else go.Bar(x=labels, y=values, name=name, marker_color=COLOURS[0]))
    fig = go.Figure(bar)
    if line is not None:
        fig.add_trace(go.Scatter(x=labels, y=[float(v) for v in line[1]], name=line[0], mode="lines",
                                 line={"color": COLOURS[3], "width": 3}))
    return Chart(cid, title, _layout(fig, title))


async def _render_all(charts: Sequence[Chart], browser_path: str | None) -> list[bytes]:
    import kaleido  # imported when a report is drawn: it is not needed to serve pages

    options = {"path": browser_path} if browser_path else {}
    async with kaleido.Kaleido(n=1, timeout=RENDER_TIMEOUT, mathjax=False, **options) as k:
        return [await k.calc_fig(c.figure, opts={"format": "png", "width": c.width, "height": c.height, "scale": 1})
                for c in charts]


def kaleido_renderer(charts: Sequence[Chart], browser_path: str | None) -> list[bytes]:
    """PNG bytes of each chart, in order, from one headless Chromium."""
    return asyncio.run(_render_all(charts, browser_path))


def render_charts(charts: Sequence[Chart], browser_path: str | None = None,
                  renderer: Renderer | None = None) -> dict[str, bytes]:
    """Each chart's checked PNG by cid. Raises ChartRenderError on any failure: no report goes out with a missing,
    blank or partial image."""
    if not charts:
        return {}
    try:
        images = (renderer or kaleido_renderer)(charts, browser_path)
    except Exception as exc:  # the browser missing, crashing or timing out: all the same to the report
        logger.warning("charts not rendered", extra={"error": str(exc)})
        raise ChartRenderError(f"charts could not be drawn: {type(exc).__name__}: {exc}") from exc
    if len(images) != len(charts):
        raise ChartRenderError(f"{len(images)} images drawn for {len(charts)} charts")
    checked = {}
    for chart, data in zip(charts, images):
        try:
            check_chart_png(data, chart.width, chart.height)
        except InvalidImage as exc:
            raise ChartRenderError(f"chart “{chart.title}”: {exc}") from None
        checked[chart.cid] = data
    return checked
