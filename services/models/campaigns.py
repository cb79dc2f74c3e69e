"""Sponsors, their campaigns and the placements (line items) that carry them."""
from __future__ import annotations

import secrets
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON, BigInteger, Boolean, CheckConstraint, Float, ForeignKey, Integer, Numeric, String, UniqueConstraint, false,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, BigId, utcnow

CAMPAIGN_STATUSES = ("draft", "proposed", "approved", "live", "paused", "completed", "cancelled")
PRICING = ("cpm", "flat")
POSITIONS = ("pre", "mid", "post")
READ_TYPES = ("host_read", "produced")
# How a placement's ad is put in the audio: inserted per download by the ad server (only where the campaign targets),
# or baked into the episode's file (heard by every download).
INSERTIONS = ("dynamic", "baked")
ATTRIBUTION_MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "markov", "shapley")
LOOKBACK_DAYS = (1, 60)  # a conversion reaches exposures this many days back (at most 60: see attribution.households)


def new_pixel_key() -> str:
    """A sponsor's pixel key: 32 random url-safe characters (24 bytes), unguessable and safe in a query string."""
    return secrets.token_urlsafe(24)


class Sponsor(Base):
    __tablename__ = "sponsors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(100))
    website: Mapped[str | None] = mapped_column(String(2000))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The key the sponsor's site puts in the conversion pixel (/px.gif?k=...); globally unique.
    pixel_key: Mapped[str] = mapped_column(String(32), unique=True, default=new_pixel_key)


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("tenant_id", "promo_code", name="uq_campaigns_tenant_promo_code"),
                      CheckConstraint("lookback_days BETWEEN 1 AND 60", name="lookback_days"),
                      CheckConstraint("markov_order IN (1, 2)", name="markov_order"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    sponsor_id: Mapped[int] = mapped_column(ForeignKey("sponsors.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    objective: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    start_date: Mapped[date]
    end_date: Mapped[date]
    budget: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    pricing: Mapped[str] = mapped_column(String(8), default="cpm")
    cpm: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    flat_fee: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    goal_impressions: Mapped[int | None] = mapped_column(BigInteger)
    target_categories: Mapped[list] = mapped_column(JSON, default=list)
    target_countries: Mapped[list] = mapped_column(JSON, default=list)
    excluded_categories: Mapped[list] = mapped_column(JSON, default=list)
    landing_url: Mapped[str | None] = mapped_column(String(2000))
    promo_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Attribution settings: how far back a conversion looks for exposures, the credit model shown by default,
    # whether the sponsor's known customers are left out, and the time-decay model's half-life.
    lookback_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    attribution_model: Mapped[str] = mapped_column(String(20), default="linear", server_default="linear")
    exclude_prior_customers: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    decay_half_life_days: Mapped[float] = mapped_column(Float, default=7.0, server_default="7.0")
    markov_order: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # 1, or 2 where asked


class Placement(Base):
    __tablename__ = "placements"
    __table_args__ = (CheckConstraint("insertion IN ('dynamic', 'baked')", name="insertion"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    podcast_id: Mapped[int] = mapped_column(ForeignKey("podcasts.id", ondelete="CASCADE"), index=True)
    # None: every episode of the podcast inside the flight; otherwise this one episode.
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"))
    position: Mapped[str] = mapped_column(String(8), default="pre")
    read_type: Mapped[str] = mapped_column(String(16), default="host_read")
    price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    start_date: Mapped[date]
    end_date: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    insertion: Mapped[str] = mapped_column(String(8), default="dynamic", server_default="dynamic")


class CampaignMetric(Base):
    """Delivery rollup: impressions and distinct listeners per placement, episode, UTC day and listener country
    ('ZZ' when unknown); only the downloads that carried the ad (see services.sponsorship.delivery).

    Kept by services.sponsorship.delivery.refresh_campaign from the counted downloads; pages and the API read only this and
    CampaignReach, never the downloads."""

    __tablename__ = "campaign_metrics"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    placement_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    episode_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True, default="ZZ", server_default="ZZ")
    podcast_id: Mapped[int] = mapped_column(BigInteger)
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    listeners: Mapped[int] = mapped_column(BigInteger, default=0)


class CampaignReach(Base):
    """Household reach over the whole flight: distinct listener keys per campaign (podcast_id 0) and per show."""

    __tablename__ = "campaign_reach"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    podcast_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # 0: the whole campaign
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)
    reach: Mapped[int] = mapped_column(BigInteger, default=0)
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)
