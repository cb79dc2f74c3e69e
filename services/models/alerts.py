"""Alert rules: what a tenant watches (a metric, a condition, a window), each rule's state, the history of its
evaluations, and the ledger that keeps the under-pacing notice to once per campaign per UTC day."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.models.base import Base, BigId, utcnow

ALERT_METRICS = ("show_downloads", "episode_launch", "campaign_pacing", "import_failures", "feed_errors")
ALERT_CONDITIONS = ("below", "above", "change", "anomaly")
ALERT_STATES = ("ok", "triggered", "muted")
ALERT_CHANNELS = ("in_app", "email")


class AlertRule(Base):
    """One watched metric of a tenant: triggered when its condition holds over its window; notified again while it
    stays triggered only after `rearm_hours`; silent while muted."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column(BigId)  # the show, episode or campaign the metric is about
    condition: Mapped[str] = mapped_column(String(16))
    threshold: Mapped[float | None] = mapped_column(Float)  # none for `anomaly`
    window_days: Mapped[int] = mapped_column(Integer, default=7)
    rearm_hours: Mapped[int] = mapped_column(Integer, default=24)
    channels: Mapped[list] = mapped_column(JSON, default=list)
    recipients: Mapped[list] = mapped_column(JSON, default=list)  # user ids; empty: the tenant's owners and admins
    state: Mapped[str] = mapped_column(String(12), default="ok")
    muted_until: Mapped[datetime | None]
    triggered_at: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]
    evaluated_at: Mapped[datetime | None]
    last_value: Mapped[float | None] = mapped_column(Float)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertEvaluation(Base):
    """One evaluation of a rule: the value read (none: no data), the state after it, whether it notified. `run_id`
    names the run (the hour, or the counting run it followed): a rule is evaluated once per run, whatever retries."""

    __tablename__ = "alert_evaluations"
    __table_args__ = (UniqueConstraint("rule_id", "run_id", name="uq_alert_evaluations_rule_run"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[str] = mapped_column(String(64))
    evaluated_at: Mapped[datetime] = mapped_column(default=utcnow)
    value: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(12))
    notified: Mapped[bool] = mapped_column(Boolean, default=False)


class PacingNotice(Base):
    """A `delivery.under_pacing` event recorded for a campaign on a UTC day: the key keeps it to one a day."""

    __tablename__ = "pacing_notices"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(BigId)
