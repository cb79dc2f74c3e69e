"""Podcasts and their episodes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, BigId, utcnow


class Podcast(Base):
    __tablename__ = "podcasts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    feed_url: Mapped[str | None] = mapped_column(String(2000))
    # Public key in tracking-prefix URLs (/e/<prefix_key>/...); random so shows cannot be enumerated.
    prefix_key: Mapped[str] = mapped_column(String(32), unique=True)
    author: Mapped[str] = mapped_column(String(500), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str | None] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(200))
    image_url: Mapped[str | None] = mapped_column(String(2000))
    # Feed refresh state: conditional GET validators and the last error, shown on the podcast's page.
    feed_etag: Mapped[str | None] = mapped_column(String(500))
    feed_last_modified: Mapped[str | None] = mapped_column(String(100))
    feed_checked_at: Mapped[datetime | None]
    feed_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Episode(Base):
    __tablename__ = "episodes"
    __table_args__ = (UniqueConstraint("podcast_id", "guid", name="uq_episodes_podcast_guid"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    podcast_id: Mapped[int] = mapped_column(ForeignKey("podcasts.id", ondelete="CASCADE"), index=True)
    guid: Mapped[str] = mapped_column(String(1000))
    title: Mapped[str] = mapped_column(String(1000))
    enclosure_url: Mapped[str | None] = mapped_column(String(2000))
    enclosure_type: Mapped[str | None] = mapped_column(String(100))
    enclosure_length: Mapped[int | None] = mapped_column(BigInteger)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    season: Mapped[int | None] = mapped_column(Integer)
    episode_number: Mapped[int | None] = mapped_column(Integer)
    episode_type: Mapped[str | None] = mapped_column(String(16))
    chapters_url: Mapped[str | None] = mapped_column(String(2000))
    transcripts: Mapped[list] = mapped_column(JSON, default=list)
    # Scheme-less enclosure URL with tracking prefixes and client parameters stripped: requests map by it.
    match_key: Mapped[str | None] = mapped_column(String(2000), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
