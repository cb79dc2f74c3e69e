"""Matchmaking: each campaign's stored show recommendations (factors and hard-filter exclusions), and the network's
factor weights."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, utcnow


class CampaignRecommendation(Base):
    """One show as a home for one campaign: its factors (each 0..1), or why a hard filter excluded it.

    The score and rank are not stored: they follow from the factors and the network's current weights, so a weight
    change re-orders at once. A recompute replaces the campaign's rows."""

    __tablename__ = "campaign_recommendations"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    podcast_id: Mapped[int] = mapped_column(ForeignKey("podcasts.id", ondelete="CASCADE"), primary_key=True)
    factors: Mapped[dict] = mapped_column(JSON, default=dict)
    excluded_because: Mapped[str | None] = mapped_column(String(500))
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class MatchmakingWeights(Base):
    """The network's weight per matchmaking factor (a missing factor takes its default from the code)."""

    __tablename__ = "matchmaking_weights"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    weights: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
