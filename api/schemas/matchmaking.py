"""Models of the matchmaking operations: ranked shows for a campaign, ranked sponsors for a show."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Recommendation(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str | None
    score: float | None
    rank: int | None
    factors: dict[str, Any] | list[Any] | None
    explanation: str | None
    excluded_because: str | None = None


class CampaignRecommendations(BaseModel):
    data: list[Recommendation]
    weights: dict[str, Any] | None
    computed_at: str | None


class SponsorRecommendations(BaseModel):
    data: list[Recommendation]
