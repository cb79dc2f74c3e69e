"""Attribution inputs: tracking links, household secrets, the idempotency ledger, conversion events, pixel rejections.

`attribution_events` is a time series like `downloads`: no foreign keys, no row-level security (a hypertable on
TimescaleDB); on PostgreSQL tenant reads go through the security-barrier view `tenant_attribution_events`
(migration 0007). The relational tables here carry the forced tenant policy of migration 0002."""
from __future__ import annotations

import secrets
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, BigId, utcnow

EVENT_SOURCES = ("pixel", "s2s", "link", "promo_csv")
EVENT_TYPES = ("pageview", "lead", "signup", "purchase", "install", "custom", "click")


def new_link_code() -> str:
    """A tracking link's short code: 8 random url-safe characters (48 bits)."""
    return secrets.token_urlsafe(6)


class TrackingLink(Base):
    """A short link `/l/<code>` for a campaign: redirects to its landing URL and records a click."""

    __tablename__ = "tracking_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True, default=new_link_code)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HouseholdSecret(Base):
    """The random key of one 90-day epoch for household keys (services.sponsorship.attribution.households)."""

    __tablename__ = "household_secrets"

    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)  # days since 1970-01-01 // 90
    secret: Mapped[str] = mapped_column(String(64))  # hex
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AttributionEventId(Base):
    """The idempotency ledger: one row per (sponsor, event id) ever taken, whatever its timestamp."""

    __tablename__ = "attribution_event_ids"

    sponsor_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AttributionEvent(Base):
    """One conversion-side event (pixel, server to server, link click, promo code). Never a raw IP: the household
    keys of the event's epoch and the one before (see households.py)."""

    __tablename__ = "attribution_events"
    __table_args__ = (Index("ix_attribution_events_sponsor_ts", "sponsor_id", "ts"),
                      Index("ix_attribution_events_tenant_ts", "tenant_id", "ts"),
                      Index("ix_attribution_events_household", "household_key"))

    ts: Mapped[datetime] = mapped_column(primary_key=True)
    sponsor_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int | None] = mapped_column(BigInteger)  # set for link clicks and promo codes
    source: Mapped[str] = mapped_column(String(12))  # EVENT_SOURCES
    type: Mapped[str] = mapped_column(String(12))  # EVENT_TYPES
    household_key: Mapped[str | None] = mapped_column(String(32))  # under the epoch of ts
    household_key_prev: Mapped[str | None] = mapped_column(String(32))  # under the epoch before
    ip_shared: Mapped[bool] = mapped_column(Boolean, default=False)  # data centre or mobile carrier: not matched
    value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    order_id: Mapped[str | None] = mapped_column(String(128))
    promo_code: Mapped[str | None] = mapped_column(String(64))
    page_url: Mapped[str | None] = mapped_column(String(2000))
    referrer: Mapped[str | None] = mapped_column(String(2000))
    utm: Mapped[dict | None] = mapped_column(JSON)


class AttributionRejection(Base):
    """Pixel calls refused at store time, counted per sponsor, UTC day and reason (tenant and sponsor 0: the key
    was unknown). Counts are at-least-once: a drain retried after a crash may count a rejection twice."""

    __tablename__ = "attribution_rejections"

    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sponsor_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
