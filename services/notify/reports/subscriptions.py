"""A user's own report subscriptions: list, create, edit, delete, and the history of their runs. Each user sees and
changes only their own, in the current tenant; a sponsor user subscribes only to their own sponsor's campaigns."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.db import Database
from services.errors import NotFound, PermissionDenied, ValidationError
from services.models import Podcast, ReportRun, ReportSubscription, Tenant
from services.models.reports import REPORT_FREQUENCIES, REPORT_KINDS
from services.notify.reports.schedule import describe
from services.sponsorship.campaigns import list_campaigns, visible_campaign
from services.tenancy import TenantContext

FIELDS = ("kind", "target_id", "frequency", "day", "hour")
KIND_LABELS = {"network": "Network report", "show": "Show report", "campaign": "Campaign report"}


@dataclass(frozen=True)
class SubscriptionRow:
    id: int
    kind: str
    target_id: int | None
    target: str  # the show's or campaign's name; the network's for a network report
    frequency: str
    day: int
    hour: int
    schedule: str
    active: bool

    @property
    def title(self) -> str:
        return f"{KIND_LABELS[self.kind]}: {self.target}"

    def values(self) -> dict:
        return {"kind": self.kind, "target_id": self.target_id, "frequency": self.frequency, "day": self.day,
                "hour": self.hour}


@dataclass(frozen=True)
class RunRow:
    id: int
    subscription_id: int
    period_start: date
    period_end: date
    status: str
    attempts: int
    error: str | None
    to_address: str | None
    created_at: datetime
    finished_at: datetime | None


def _require_user(ctx: TenantContext) -> int:
    if ctx.user_id is None:
        raise PermissionDenied("reports are subscribed to by a signed-in user for themselves")
    return ctx.user_id


def _mine(stmt, ctx: TenantContext):
    stmt = stmt.where(ReportSubscription.tenant_id == ctx.tenant_id, ReportSubscription.user_id == _require_user(ctx))
    if ctx.is_sponsor:
        stmt = stmt.where(ReportSubscription.sponsor_id == ctx.sponsor_id)
    return stmt


def tenant_timezone(s: Session, tenant_id: int) -> str:
    return s.scalar(select(Tenant.timezone).where(Tenant.id == tenant_id)) or "UTC"


def _int(data: dict, name: str, low: int, high: int, errors: dict[str, str]) -> int | None:
    value = data.get(name)
    try:
        number = int(value)
    except (TypeError, ValueError):
        errors[name] = f"a whole number from {low} to {high}"
        return None
    if not low <= number <= high:
        errors[name] = f"a whole number from {low} to {high}"
        return None
    return number


def _target_name(s: Session, ctx: TenantContext, kind: str, target_id: int | None) -> str:
    """The target's name if this context may report on it; NotFound for another tenant's or another sponsor's."""
    if kind == "network":
        return s.scalar(select(Tenant.name).where(Tenant.id == ctx.tenant_id)) or "Network"
    if kind == "show":
        title = s.scalar(select(Podcast.title).where(Podcast.id == target_id, Podcast.tenant_id == ctx.tenant_id))
        if title is None:
            raise NotFound(f"no show {target_id}")
        return title
    return visible_campaign(s, ctx, target_id).name


def _validated(s: Session, ctx: TenantContext, data: dict) -> dict:
    """The form's values checked, each problem named by its field; the target must be one this user may see."""
    errors: dict[str, str] = {}
    kind = data.get("kind")
    if kind not in REPORT_KINDS:
        errors["kind"] = "one of " + ", ".join(REPORT_KINDS)
    elif ctx.is_sponsor and kind != "campaign":
        errors["kind"] = "sponsor users subscribe to their campaigns' reports"
    frequency = data.get("frequency")
    if frequency not in REPORT_FREQUENCIES:
        errors["frequency"] = "weekly or monthly"
    day = _int(data, "day", 1, 7 if frequency == "weekly" else 31, errors)
    hour = _int(data, "hour", 0, 23, errors)
    target_id = None
    if kind in ("show", "campaign"):
        target_id = _int(data, "target_id", 1, 2**62, errors)
        if target_id is None:
            errors["target_id"] = f"choose a {'show' if kind == 'show' else 'campaign'}"
    if errors:
        raise ValidationError("check " + ", ".join(errors), errors)
    try:
        _target_name(s, ctx, kind, target_id)
    except NotFound as exc:
        raise ValidationError(exc.message, {"target_id": exc.message}) from None
    return {"kind": kind, "target_id": target_id, "frequency": frequency, "day": day, "hour": hour}


def _row(s: Session, ctx: TenantContext, sub: ReportSubscription, tz_name: str) -> SubscriptionRow:
    try:
        target = _target_name(s, ctx, sub.kind, sub.target_id)
    except NotFound:
        target = "(no longer available)"
    return SubscriptionRow(sub.id, sub.kind, sub.target_id, target, sub.frequency, sub.day, sub.hour,
                           describe(sub.frequency, sub.day, sub.hour, tz_name), sub.active)


def list_subscriptions(db: Database, ctx: TenantContext) -> list[SubscriptionRow]:
    with db.session(ctx.tenant_id) as s:
        tz_name = tenant_timezone(s, ctx.tenant_id)
        subs = s.scalars(_mine(select(ReportSubscription), ctx).order_by(ReportSubscription.id)).all()
        return [_row(s, ctx, sub, tz_name) for sub in subs]


def _own(s: Session, ctx: TenantContext, subscription_id: int) -> ReportSubscription:
    """This user's subscription; another user's (or another tenant's) is simply not found."""
    sub = s.scalar(_mine(select(ReportSubscription), ctx).where(ReportSubscription.id == subscription_id))
    if sub is None:
        raise NotFound(f"no report subscription {subscription_id}")
    return sub


def get_subscription(db: Database, ctx: TenantContext, subscription_id: int) -> SubscriptionRow:
    with db.session(ctx.tenant_id) as s:
        return _row(s, ctx, _own(s, ctx, subscription_id), tenant_timezone(s, ctx.tenant_id))


def create_subscription(db: Database, ctx: TenantContext, data: dict) -> SubscriptionRow:
    """Subscribe the signed-in user (only themselves) to a report."""
    user_id = _require_user(ctx)
    with db.session(ctx.tenant_id) as s:
        values = _validated(s, ctx, data)
        sub = ReportSubscription(tenant_id=ctx.tenant_id, user_id=user_id,
                                 sponsor_id=ctx.sponsor_id if ctx.is_sponsor else None, active=True, **values)
        s.add(sub)
        s.commit()
        return _row(s, ctx, sub, tenant_timezone(s, ctx.tenant_id))


def update_subscription(db: Database, ctx: TenantContext, subscription_id: int, data: dict) -> SubscriptionRow:
    with db.session(ctx.tenant_id) as s:
        sub = _own(s, ctx, subscription_id)
        for name, value in _validated(s, ctx, data).items():
            setattr(sub, name, value)
        s.commit()
        return _row(s, ctx, sub, tenant_timezone(s, ctx.tenant_id))


def delete_subscription(db: Database, ctx: TenantContext, subscription_id: int) -> None:
    """Delete the subscription and its history."""
    with db.session(ctx.tenant_id) as s:
        s.delete(_own(s, ctx, subscription_id))
        s.commit()


def list_runs(db: Database, ctx: TenantContext, subscription_id: int | None = None, limit: int = 50) -> list[RunRow]:
    """This user's report runs, newest first (one subscription's when given)."""
    with db.session(ctx.tenant_id) as s:
        mine = _mine(select(ReportSubscription.id), ctx)
        if subscription_id is not None:
            _own(s, ctx, subscription_id)
            mine = mine.where(ReportSubscription.id == subscription_id)
        runs = s.scalars(select(ReportRun).where(ReportRun.tenant_id == ctx.tenant_id,
                                                 ReportRun.subscription_id.in_(mine))
                         .order_by(ReportRun.id.desc()).limit(limit)).all()
    return [RunRow(r.id, r.subscription_id, r.period_start, r.period_end, r.status, r.attempts, r.error,
                   r.to_address, r.created_at, r.finished_at) for r in runs]


def target_choices(db: Database, ctx: TenantContext, kind: str | None) -> list[tuple[int, str]]:
    """What a report of `kind` may be about for this user: the tenant's shows (staff), the visible campaigns."""
    if kind == "show":
        if ctx.is_sponsor:
            return []
        with db.session(ctx.tenant_id) as s:
            return [tuple(r) for r in s.execute(select(Podcast.id, Podcast.title)
                                                .where(Podcast.tenant_id == ctx.tenant_id).order_by(Podcast.title))]
    if kind == "campaign":
        return [(c.id, f"{c.name} ({c.sponsor})") for c in list_campaigns(db, ctx)]
    return []


def kind_choices(ctx: TenantContext) -> list[tuple[str, str]]:
    kinds = ("campaign",) if ctx.is_sponsor else REPORT_KINDS
    return [(k, KIND_LABELS[k]) for k in kinds]
