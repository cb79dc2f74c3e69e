"""Counted downloads and the daily rollups the dashboards read."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, BigId


class Download(Base):
    """One counted download (after filtering and dedupe); never a raw IP."""

    __tablename__ = "downloads"
    __table_args__ = (Index("ix_downloads_tenant_ts", "tenant_id", "ts"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    podcast_id: Mapped[int] = mapped_column(ForeignKey("podcasts.id", ondelete="CASCADE"))
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"), index=True)
    ts: Mapped[datetime]
    listener_key: Mapped[str] = mapped_column(String(32))
    app: Mapped[str | None] = mapped_column(String(100))
    device: Mapped[str | None] = mapped_column(String(50))
    os: Mapped[str | None] = mapped_column(String(50))
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(100))
    referrer: Mapped[str | None] = mapped_column(String(100))


class PodcastDailyMetric(Base):
    __tablename__ = "podcast_daily_metrics"

    podcast_id: Mapped[int] = mapped_column(ForeignKey("podcasts.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)
    listeners: Mapped[int] = mapped_column(BigInteger, default=0)


class EpisodeDailyMetric(Base):
    __tablename__ = "episode_daily_metrics"

    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    podcast_id: Mapped[int] = mapped_column(ForeignKey("podcasts.id", ondelete="CASCADE"), index=True)
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)
    listeners: Mapped[int] = mapped_column(Integer, default=0)
