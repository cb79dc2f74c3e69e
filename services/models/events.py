"""Domain events: the outbox that services write in the same transaction as their change, and the ledger of which
handler has handled which event (handlers are idempotent by event id). Both carry the forced tenant policy of
migration 0002 on PostgreSQL."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, BigId, utcnow

EVENT_STATUSES = ("pending", "done", "parked")
HANDLING_STATUSES = ("done", "failed", "parked")


class DomainEvent(Base):
    """Something that happened in a tenant (`campaign.created`, `import.failed` ...), with what a handler needs."""

    __tablename__ = "domain_events"
    __table_args__ = (Index("ix_domain_events_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | done | parked
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    dispatched_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class EventHandling(Base):
    """One handler's work on one event: done once, whatever the retries; parked with its error after repeated
    failures, until replayed."""

    __tablename__ = "event_handlings"

    event_id: Mapped[int] = mapped_column(ForeignKey("domain_events.id", ondelete="CASCADE"), primary_key=True)
    handler: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="failed")  # done | failed | parked
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
