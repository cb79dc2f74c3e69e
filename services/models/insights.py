"""Insights: detected anomalies and cached written summaries.

Relational tenant tables with the forced tenant policy of migration 0002 (migration 0015)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, BigId, utcnow

NETWORK = 0  # podcast_id / scope_id of a network-wide row (0, not NULL, so the unique keys hold on PostgreSQL)


class Anomaly(Base):
    """One unusual day of one series: a show's downloads, an app's or a country's within a show, or the network's
    raw or bot-filtered requests. Unique per (tenant, podcast, dimension, day): detecting again is a no-op."""

    __tablename__ = "anomalies"
    __table_args__ = (UniqueConstraint("tenant_id", "podcast_id", "dimension", "day", name="uq_anomalies_series_day"),
                      Index("ix_anomalies_tenant_day", "tenant_id", "day"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    podcast_id: Mapped[int] = mapped_column(BigInteger, default=NETWORK)
    day: Mapped[date]
    dimension: Mapped[str] = mapped_column(String(120))  # downloads | app:<name> | country:<XX> | requests | bot_requests
    value: Mapped[float] = mapped_column(Float)
    expected: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(8))  # spike | drop | gap
    cause: Mapped[str | None] = mapped_column(String(200))
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)


class InsightSummary(Base):
    """A written summary of one scope over one period, cached until counting changes its figures."""

    __tablename__ = "insight_summaries"
    __table_args__ = (UniqueConstraint("tenant_id", "scope", "scope_id", "first_day", "last_day",
                                       name="uq_insight_summaries_period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(12))  # network | podcast | campaign
    scope_id: Mapped[int] = mapped_column(BigInteger, default=NETWORK)
    first_day: Mapped[date]
    last_day: Mapped[date]
    text: Mapped[str] = mapped_column(Text)
    writer: Mapped[str] = mapped_column(String(12))  # template | llm
    facts: Mapped[list] = mapped_column(JSON, default=list)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
