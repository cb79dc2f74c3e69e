"""An embed's chart data, read through the very services the dashboard and campaign pages call, as the embed's
own context (its tenant, read-only; a sponsor's embed as that sponsor) and with its locked filters only."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import pandas as pd

from services.dashboards import audience, overview
from services.db import Database
from services.sharing.filters import view_state
from services.sharing.store import EmbedInfo, embed_context
from services.insights import forecast_store
from services.sponsorship import campaigns, delivery
from services.sponsorship.attribution import report as attribution

NO_DOWNLOADS = "No downloads in this period yet."


@dataclass(frozen=True)
class EmbedChart:
    chart: str
    frame: pd.DataFrame
    empty: str | None = None  # what to say instead of a chart when there is nothing to draw
    meta: dict = field(default_factory=dict)  # what the figure needs besides the frame


def read_chart(db: Database, embed: EmbedInfo, today: date | None = None) -> EmbedChart:
    """The frame the embed's chart is drawn from; ServiceError (NotFound...) when its target is gone."""
    ctx, f = embed_context(embed), embed.filters
    chart = embed.chart
    if chart in ("downloads_timeline", "top_episodes", "top_apps", "top_countries", "world_map"):
        state = view_state(f)
        if chart == "downloads_timeline":
            frame = overview.downloads_timeline(db, ctx, state, today)
            empty = frame.empty or int(frame["downloads"].sum()) == 0
            return EmbedChart(chart, frame, NO_DOWNLOADS if empty else None, {"granularity": state.granularity})
        if chart == "world_map":
            frame = audience.breakdown(db, ctx, state, "country", today)
        else:
            read = {"top_episodes": overview.top_episodes, "top_apps": overview.top_apps,
                    "top_countries": overview.top_countries}[chart]
            frame = read(db, ctx, state, today)
        return EmbedChart(chart, frame, NO_DOWNLOADS if frame.empty else None)
    if chart == "episode_launch":
        frame = forecast_store.launch_curves_with_forecast(db, ctx, int(f["episode"]), (), today)
        return EmbedChart(chart, frame, "No downloads since this episode's release yet." if frame.empty else None)
    if chart == "campaign_delivery":
        detail = campaigns.get_campaign(db, ctx, int(f["campaign"]))
        frame = delivery.delivery_by(db, ctx, detail.id, "day")
        as_of = min(today or datetime.now(timezone.utc).date(), detail.end_date)
        empty = frame.empty or int(frame[frame["day"] <= as_of]["impressions"].sum()) == 0
        return EmbedChart(chart, frame, "No delivery yet." if empty else None,
                          {"goal": detail.goal_impressions, "start": detail.start_date, "end": detail.end_date,
                           "as_of": as_of, "campaign": detail.name})
    result = attribution.attribution_report(db, ctx, int(f["campaign"]))
    label = attribution.model_label(result.model, result.summary)
    return EmbedChart(chart, result.lag, "No matched conversions yet." if result.lag.empty else None,
                      {"model_label": label})
