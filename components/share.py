"""The "Share / embed" button beside a chart card and the share form's ids; kept apart from the form so the chart
cards (components/controls.py) can add the button without importing figures."""
from __future__ import annotations

from dash import html

SHARE = "embed-share"  # pattern-matching: {"type": SHARE, "page": page prefix, "chart": embed chart name}
# A page's chart card -> the embed chart it shares (cards not listed have no share button).
CARD_CHARTS = {
    ("overview", "timeline"): "downloads_timeline", ("overview", "top-episodes"): "top_episodes",
    ("overview", "top-apps"): "top_apps", ("overview", "top-countries"): "top_countries",
    ("podcast", "timeline"): "downloads_timeline", ("podcast", "top-episodes"): "top_episodes",
    ("podcast", "top-apps"): "top_apps", ("podcast", "top-countries"): "top_countries",
    ("audience", "countries"): "world_map", ("audience", "apps"): "top_apps", ("episode", "launch"): "episode_launch",
}


class ShareIds:
    """The share form's ids on one page (each page has its own form, so two pages never collide)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        for name in ("box", "chart", "theme", "title", "expiry", "origins", "create", "close", "result"):
            setattr(self, name.upper(), f"{prefix}-embed-{name}")

    def share(self, chart: str) -> dict:
        return {"type": SHARE, "page": self.prefix, "chart": chart}


def share_button(prefix: str, chart: str) -> html.Button:
    return html.Button("Share / embed", id=ShareIds(prefix).share(chart), className="link-button share-button",
                       title="Show this chart on another site, with these filters locked")


def card_share_button(prefix: str, card: str) -> html.Button | None:
    chart = CARD_CHARTS.get((prefix, card))
    return share_button(prefix, chart) if chart else None
