"""The forecasts as summary facts (a provider for services.insights.facts.build_facts): for a show or the network,
the downloads expected over the next 7 days with their 80% interval (the stored show forecasts); for a campaign, the
delivery expected by the flight's end and the chance of reaching its goal (pacing, from the same forecasts)."""
from __future__ import annotations

from sqlalchemy import select

from services.insights import forecast_store
from services.insights.facts import Fact, FactsRequest
from services.models import Podcast
from services.sponsorship import pacing

NEXT_DAYS = 7
SOURCE_SHOWS, SOURCE_CAMPAIGN = "forecast:shows", "forecast:campaign"


def forecast_facts(request: FactsRequest) -> list[Fact]:
    if request.scope == "campaign":
        return _campaign(request) if request.scope_id is not None else []
    if request.ctx.is_sponsor:
        return []
    return _shows(request)


def _shows(request: FactsRequest) -> list[Fact]:
    if request.scope == "podcast":
        podcast_ids = [request.scope_id]
    else:
        with request.db.session(request.ctx.tenant_id) as s:
            podcast_ids = list(s.scalars(select(Podcast.id).where(Podcast.tenant_id == request.ctx.tenant_id)))
    frames = [forecast_store.podcast_forecast(request.db, request.ctx, pid, NEXT_DAYS) for pid in podcast_ids]
    frames = [f for f in frames if len(f)]
    if not frames:
        return []
    total = {column: sum(float(f[column].sum()) for f in frames) for column in ("downloads", "lower", "upper")}
    return [Fact(f"forecast_downloads_next_{NEXT_DAYS}_days", round(total["downloads"]), SOURCE_SHOWS),
            Fact(f"forecast_downloads_next_{NEXT_DAYS}_days_low", round(total["lower"]), SOURCE_SHOWS),
            Fact(f"forecast_downloads_next_{NEXT_DAYS}_days_high", round(total["upper"]), SOURCE_SHOWS)]


def _campaign(request: FactsRequest) -> list[Fact]:
    outlook = pacing.pacing(request.db, request.ctx, request.scope_id)
    facts = [Fact("forecast_impressions_by_flight_end", round(outlook.forecast), SOURCE_CAMPAIGN)]
    if outlook.goal_probability is not None:
        facts.append(Fact("chance_of_reaching_the_goal_pct", round(100 * outlook.goal_probability, 1),
                          SOURCE_CAMPAIGN))
    return facts
