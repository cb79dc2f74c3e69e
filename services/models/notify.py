"""Notifications: in-app notifications (per user, per tenant; sponsor users' carry their sponsor), each user's
channel preferences per event kind, and the email log (status, attempts, error of every email the product sends).
Each carries the forced tenant policy of migration 0002 on PostgreSQL."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, BigId, utcnow

CHANNELS = ("in_app", "email")
EMAIL_STATUSES = ("queued", "retrying", "sent", "written", "bounced", "failed")


class Notification(Base):
    """One message in one user's bell; at most one per (user, event), so a replayed event adds nothing."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("user_id", "event_id", name="uq_notifications_user_event"),
                      Index("ix_notifications_user_unread", "tenant_id", "user_id", "read_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # Set when the recipient is a sponsor user: they see only notifications of their own sponsor.
    sponsor_id: Mapped[int | None] = mapped_column(ForeignKey("sponsors.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("domain_events.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class NotificationPreference(Base):
    """A user's choice for one event kind on one channel; no row means on."""

    __tablename__ = "notification_preferences"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(12), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)


class EmailMessage(Base):
    """An email the product sends and what became of it; `dedupe_key` makes a retried cause queue it once."""

    __tablename__ = "email_log"
    __table_args__ = (UniqueConstraint("tenant_id", "dedupe_key", name="uq_email_log_tenant_dedupe_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(128))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))  # a path in the app; made absolute when sent
    status: Mapped[str] = mapped_column(String(12), default="queued")  # EMAIL_STATUSES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
