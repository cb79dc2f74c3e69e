"""Scheduled email reports: each user's own subscriptions (network, one show, or one campaign; weekly or monthly, on a
day and hour of the tenant's time zone) and the history of their runs, one per subscription per period."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, BigId, utcnow

REPORT_KINDS = ("network", "show", "campaign")
REPORT_FREQUENCIES = ("weekly", "monthly")
RUN_STATUSES = ("queued", "sending", "retrying", "sent", "written", "failed")


class ReportSubscription(Base):
    """One user's subscription to one report. `day` is the ISO weekday (1 = Monday) for weekly reports, the day of
    the month (1-31; the month's last day when shorter) for monthly ones; `hour` is local to the tenant."""

    __tablename__ = "report_subscriptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Set when the subscriber is a sponsor user: the report is of their sponsor's campaign only.
    sponsor_id: Mapped[int | None] = mapped_column(ForeignKey("sponsors.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int | None] = mapped_column(BigId)  # the show or campaign; none for the network
    frequency: Mapped[str] = mapped_column(String(12))
    day: Mapped[int] = mapped_column(Integer)
    hour: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReportRun(Base):
    """One period's report of one subscription: `period_key` is unique per subscription, so a retried job or a second
    scheduler tick never sends a period twice. A failed run keeps its error; nothing was sent for it."""

    __tablename__ = "report_runs"
    __table_args__ = (UniqueConstraint("subscription_id", "period_key", name="uq_report_runs_subscription_period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("report_subscriptions.id", ondelete="CASCADE"),
                                                 index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    period_key: Mapped[str] = mapped_column(String(32))
    period_start: Mapped[date]
    period_end: Mapped[date]
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default="queued")  # RUN_STATUSES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    to_address: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
