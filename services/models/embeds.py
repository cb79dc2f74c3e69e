"""Embeds: one chart of a tenant shared as a signed, revocable iframe link, with its filters locked. Carries the
forced tenant policy of migration 0002 on PostgreSQL; the public /embed/<token> route finds a row by id in a system
session, then reads the chart in a session of the embed's tenant."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, BigId, utcnow

EMBED_CHARTS = ("downloads_timeline", "top_episodes", "top_apps", "top_countries", "world_map", "episode_launch",
                "campaign_delivery", "campaign_attribution")
EMBED_THEMES = ("light", "dark")


class Embed(Base):
    """One shared chart; `filters` are locked at creation (a moving preset or fixed dates, podcast, episode,
    campaign); `sponsor_id` is set for a sponsor user's embed (their own campaign's charts only)."""

    __tablename__ = "embeds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sponsor_id: Mapped[int | None] = mapped_column(ForeignKey("sponsors.id", ondelete="CASCADE"), index=True)
    chart: Mapped[str] = mapped_column(String(32))
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    theme: Mapped[str] = mapped_column(String(8), default="light")
    title: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[datetime | None]
    allowed_origins: Mapped[list] = mapped_column(JSON, default=list)
    revoked_at: Mapped[datetime | None]
    views: Mapped[int] = mapped_column(Integer, default=0)
    last_viewed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
