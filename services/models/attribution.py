"""Attribution inputs: tracking links, household secrets, the idempotency ledger, conversion events, pixel rejections.

`attribution_events` is a time series like `downloads`: no foreign keys, no row-level security (a hypertable on
TimescaleDB); on PostgreSQL tenant reads go through the security-barrier view `tenant_attribution_events`
(migration 0007). The relational tables here carry the forced tenant policy of migration 0002."""
from __future__ import annotations

import secrets
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, Numeric, String
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


# Time series with no row-level security (read through tenant views, as downloads are): bulk writes COPY them in.
ATTRIBUTION_TIME_SERIES = ("attribution_events", "attribution_touchpoints", "attribution_daily")
CREDIT_MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "markov", "shapley")


class AttributionTouchpoint(Base):
    """One exposure on a matched conversion's path, with the share of that conversion each model credits to it
    (services.sponsorship.attribution.results). A time series like `attribution_events`: no foreign keys, no
    row-level security (a hypertable on the conversion's ts on TimescaleDB); tenant reads go through the view
    `tenant_attribution_touchpoints` (migration 0009)."""

    __tablename__ = "attribution_touchpoints"
    __table_args__ = (Index("ix_attribution_touchpoints_campaign", "tenant_id", "campaign_id", "conversion_ts"),)

    conversion_ts: Mapped[datetime] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)  # with ts and the campaign's sponsor: the event
    touch: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0-based position on the path, in time order
    tenant_id: Mapped[int] = mapped_column(BigInteger)
    household_key: Mapped[str] = mapped_column(String(32))  # the exposure's household key
    conversion_type: Mapped[str] = mapped_column(String(12))
    value: Mapped[float] = mapped_column(Float, default=0.0)  # the conversion's revenue (0 when it carried none)
    exposure_ts: Mapped[datetime]
    placement_id: Mapped[int] = mapped_column(BigInteger)
    podcast_id: Mapped[int] = mapped_column(BigInteger)
    episode_id: Mapped[int] = mapped_column(BigInteger)
    days_since_exposure: Mapped[float] = mapped_column(Float)
    first_touch: Mapped[float] = mapped_column(Float)
    last_touch: Mapped[float] = mapped_column(Float)
    linear: Mapped[float] = mapped_column(Float)
    time_decay: Mapped[float] = mapped_column(Float)
    position_based: Mapped[float] = mapped_column(Float)
    markov: Mapped[float] = mapped_column(Float)
    shapley: Mapped[float] = mapped_column(Float)


class AttributionRun(Base):
    """One run of attribute_campaign: its status and progress, the counts the report shows beside the touchpoints
    (households, promo codes, visitors, lift), and its error when it failed."""

    __tablename__ = "attribution_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="running")  # running | finished | failed
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    computed_at: Mapped[datetime | None]
    channel: Mapped[str] = mapped_column(String(12), default="placement")  # Markov and Shapley's channels
    conversions: Mapped[int] = mapped_column(Integer, default=0)  # matched conversions
    touchpoints: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict | None] = mapped_column(JSON)  # households, promo codes, visitors, lift ...
    error: Mapped[str | None] = mapped_column(String(2000))


REVENUE_SUFFIX = "_revenue"


class AttributionDaily(Base):
    """The touchpoints rolled up per conversion day (UTC), placement, episode and whole days since the exposure: each
    model's credit (conversions) and credit x value (`<model>_revenue`). The attribution report reads only this.
    On TimescaleDB a continuous aggregate over attribution_touchpoints (migration 0017); elsewhere a
    plain table that results.attribute_campaign rewrites with the campaign's touchpoints. Tenant reads on PostgreSQL
    go through the view `tenant_attribution_daily`."""

    __tablename__ = "attribution_daily"

    day: Mapped[date] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    placement_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    episode_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    lag_days: Mapped[int] = mapped_column(Integer, primary_key=True)  # whole days from exposure to conversion
    podcast_id: Mapped[int] = mapped_column(BigInteger)
    first_touch: Mapped[float] = mapped_column(Float)
    last_touch: Mapped[float] = mapped_column(Float)
    linear: Mapped[float] = mapped_column(Float)
    time_decay: Mapped[float] = mapped_column(Float)
    position_based: Mapped[float] = mapped_column(Float)
    markov: Mapped[float] = mapped_column(Float)
    shapley: Mapped[float] = mapped_column(Float)
    first_touch_revenue: Mapped[float] = mapped_column(Float)
    last_touch_revenue: Mapped[float] = mapped_column(Float)
    linear_revenue: Mapped[float] = mapped_column(Float)
    time_decay_revenue: Mapped[float] = mapped_column(Float)
    position_based_revenue: Mapped[float] = mapped_column(Float)
    markov_revenue: Mapped[float] = mapped_column(Float)
    shapley_revenue: Mapped[float] = mapped_column(Float)
