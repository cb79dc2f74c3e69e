"""Measurement store: raw requests, counted downloads, the rollups dashboards read, log imports, hash secrets.

The time-series tables carry no foreign keys (bulk COPY speed; TimescaleDB hypertables) and no row-level
security (TimescaleDB refuses it beside continuous aggregates): on PostgreSQL, reads go through the
security-barrier views `tenant_<table>` that migration 0003 creates."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, BigInteger, ForeignKey, Index, Integer, PrimaryKeyConstraint, SmallInteger, String,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, BigId, utcnow

# Bits of Download.flags: this download is the listener's first in that grain, so counting flagged rows
# counts distinct listeners (a listener key is one IP + one User-Agent, so its app, device and country are fixed).
FIRST_PODCAST_DAY = 1
FIRST_EPISODE_DAY = 2
FIRST_PODCAST_HOUR = 4


class DownloadRequest(Base):
    """A raw request for audio, from the tracking prefix or an imported log; short retention, never a raw IP."""

    __tablename__ = "download_requests"
    # One index, the key: a tenant's requests in time order (what every read of them asks for), and a replay is a
    # no-op (the same request of the same tenant at the same time). Migration 0033 says why not two.
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "ts", "request_uid", name="pk_download_requests"),)

    request_uid: Mapped[str] = mapped_column(String(40), primary_key=True)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    podcast_id: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(8))  # prefix | log
    import_id: Mapped[int | None] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(8))
    status: Mapped[int | None] = mapped_column(SmallInteger)
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    range: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2000))
    user_agent: Mapped[str | None] = mapped_column(String(1000))
    referer: Mapped[str | None] = mapped_column(String(1000))
    listener_key: Mapped[str] = mapped_column(String(32))  # keyed hash of IP (IPv6 /64) + User-Agent
    # Keyed hash of the IP alone (IPv6 /64) under its 90-day epoch's secret: the household attribution matches on
    household_key: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(100))


class Download(Base):
    """One counted download, after IAB filtering and dedupe."""

    __tablename__ = "downloads"
    __table_args__ = (Index("ix_downloads_tenant_ts", "tenant_id", "ts"),
                      Index("ix_downloads_episode_ts", "episode_id", "ts"))

    ts: Mapped[datetime] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    episode_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    listener_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    podcast_id: Mapped[int] = mapped_column(BigInteger)
    app: Mapped[str | None] = mapped_column(String(100))
    device: Mapped[str | None] = mapped_column(String(50))
    os: Mapped[str | None] = mapped_column(String(50))
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(100))
    referrer: Mapped[str | None] = mapped_column(String(100))
    flags: Mapped[int] = mapped_column(SmallInteger, default=0)
    household_key: Mapped[str | None] = mapped_column(String(32))  # as on the request it was counted from


class _Rollup:
    # Indexed per rollup: (tenant_id, day|hour) on the seven older ones (migration 0005 dropped their tenant_id
    # index, a redundant prefix), tenant_id alone on the per-episode ones.
    tenant_id: Mapped[int] = mapped_column(BigInteger)
    podcast_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    downloads: Mapped[int] = mapped_column(BigInteger, default=0)
    listeners: Mapped[int] = mapped_column(BigInteger, default=0)


class PodcastHourlyMetric(_Rollup, Base):
    __tablename__ = "podcast_hourly_metrics"
    hour: Mapped[datetime] = mapped_column(primary_key=True)


class PodcastDailyMetric(_Rollup, Base):
    __tablename__ = "podcast_daily_metrics"
    day: Mapped[date] = mapped_column(primary_key=True)


class EpisodeDailyMetric(_Rollup, Base):
    __tablename__ = "episode_daily_metrics"
    __table_args__ = (Index("ix_episode_daily_metrics_episode_day", "episode_id", "day"),)  # migration 0005
    day: Mapped[date] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class PodcastAppDailyMetric(_Rollup, Base):
    __tablename__ = "podcast_app_daily_metrics"
    day: Mapped[date] = mapped_column(primary_key=True)
    app: Mapped[str] = mapped_column(String(100), primary_key=True)


class PodcastDeviceDailyMetric(_Rollup, Base):
    __tablename__ = "podcast_device_daily_metrics"
    day: Mapped[date] = mapped_column(primary_key=True)
    device: Mapped[str] = mapped_column(String(50), primary_key=True)
    os: Mapped[str] = mapped_column(String(50), primary_key=True)


class PodcastGeoDailyMetric(_Rollup, Base):
    __tablename__ = "podcast_geo_daily_metrics"
    day: Mapped[date] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    region: Mapped[str] = mapped_column(String(100), primary_key=True)


class PodcastReferrerDailyMetric(_Rollup, Base):
    __tablename__ = "podcast_referrer_daily_metrics"
    day: Mapped[date] = mapped_column(primary_key=True)
    referrer: Mapped[str] = mapped_column(String(100), primary_key=True)


class EpisodeAppDailyMetric(_Rollup, Base):
    """Narrow per-episode rollups (migration 0005): one episode's apps, devices and countries, listeners by
    FIRST_EPISODE_DAY. Keyed so one episode's rows are one index range."""

    __tablename__ = "episode_app_daily_metrics"
    __table_args__ = (Index("ix_episode_app_daily_metrics_episode_day", "episode_id", "day"),
                      Index("ix_episode_app_daily_metrics_tenant_id", "tenant_id"))
    day: Mapped[date] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    app: Mapped[str] = mapped_column(String(100), primary_key=True)


class EpisodeDeviceDailyMetric(_Rollup, Base):
    __tablename__ = "episode_device_daily_metrics"
    __table_args__ = (Index("ix_episode_device_daily_metrics_episode_day", "episode_id", "day"),
                      Index("ix_episode_device_daily_metrics_tenant_id", "tenant_id"))
    day: Mapped[date] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    device: Mapped[str] = mapped_column(String(50), primary_key=True)


class EpisodeGeoDailyMetric(_Rollup, Base):
    __tablename__ = "episode_geo_daily_metrics"
    __table_args__ = (Index("ix_episode_geo_daily_metrics_episode_day", "episode_id", "day"),
                      Index("ix_episode_geo_daily_metrics_tenant_id", "tenant_id"))
    day: Mapped[date] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)


ROLLUPS = (PodcastHourlyMetric, PodcastDailyMetric, EpisodeDailyMetric, PodcastAppDailyMetric,
           PodcastDeviceDailyMetric, PodcastGeoDailyMetric, PodcastReferrerDailyMetric,
           EpisodeAppDailyMetric, EpisodeDeviceDailyMetric, EpisodeGeoDailyMetric)
TIME_SERIES_TABLES = ("download_requests", "downloads") + tuple(m.__tablename__ for m in ROLLUPS)

# One tenant's days as one index range (migration 0005).
for _model, _bucket in ((PodcastHourlyMetric, "hour"), (PodcastDailyMetric, "day"), (EpisodeDailyMetric, "day"),
                        (PodcastAppDailyMetric, "day"), (PodcastDeviceDailyMetric, "day"),
                        (PodcastGeoDailyMetric, "day"), (PodcastReferrerDailyMetric, "day")):
    Index(f"ix_{_model.__tablename__}_tenant_{_bucket}", _model.tenant_id, getattr(_model, _bucket))


class LogImport(Base):
    """One imported log file; its fingerprint makes a second import of the same file a no-op."""

    __tablename__ = "log_imports"
    __table_args__ = (UniqueConstraint("tenant_id", "fingerprint", name="uq_log_imports_tenant_fingerprint"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | completed | failed
    lines_total: Mapped[int] = mapped_column(Integer, default=0)
    lines_imported: Mapped[int] = mapped_column(Integer, default=0)
    lines_rejected: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list] = mapped_column(JSON, default=list)
    message: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class HashSecret(Base):
    """The random secret listener keys are hashed with, one per month; dropped after raw-data retention."""

    __tablename__ = "hash_secrets"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CountingState(Base):
    """How far counting has got per tenant: requests up to `counted_until` are reflected in downloads."""

    __tablename__ = "counting_state"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    counted_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CountingDay(Base):
    """Per tenant and UTC day, what counting saw: raw requests and those dropped as bots. Lets insights tell an
    import gap (no request at all) and a bot surge without reading raw history."""

    __tablename__ = "counting_days"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    bot_requests: Mapped[int] = mapped_column(Integer, default=0)
