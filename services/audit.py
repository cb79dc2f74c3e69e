"""Audit log: who changed what, written in the same transaction as the change; and the owners' and admins' view of
it (filters, newest first, CSV)."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services import lookups
from services.db import Database
from services.errors import ValidationError
from services.models import AuditLog, User
from services.tenancy import TenantContext, require_role

COLUMNS = ["when", "who", "action", "entity", "entity_id", "detail"]
MAX_ROWS = 5000


def record(session: Session, ctx: TenantContext, action: str, entity_type: str, entity_id: int | None = None,
           detail: dict | None = None) -> None:
    session.add(AuditLog(tenant_id=ctx.tenant_id, user_id=ctx.user_id, action=action, entity_type=entity_type,
                         entity_id=entity_id, detail=detail or {}))


def record_for_user(session: Session, user_id: int, action: str, detail: dict | None = None) -> None:
    """An account event (a login, a failed login) in the audit log of every tenant the user belongs to.

    Any session will do: each entry is written as its own tenant (services.lookups.acting_in)."""
    for membership in lookups.user_memberships(session, user_id):
        with lookups.acting_in(session, membership.tenant_id):
            session.add(AuditLog(tenant_id=membership.tenant_id, user_id=user_id, action=action, entity_type="user",
                                 entity_id=user_id, detail=detail or {}))


def _day(value: str | date | None, field: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValidationError(f"{field} must be a date (YYYY-MM-DD)", {field: "not a date"}) from None


def entries(db: Database, ctx: TenantContext, *, family: str | None = None, who: str | None = None,
            start: str | date | None = None, end: str | date | None = None, limit: int = 500) -> pd.DataFrame:
    """The tenant's audit entries, newest first, for owners and admins: `family` keeps actions of one family
    ("campaign", "login", ...), `who` keeps entries whose user email contains it, `start`/`end` are inclusive UTC
    days. At most `limit` rows (up to MAX_ROWS)."""
    require_role(ctx, "admin")
    first, last = _day(start, "start"), _day(end, "end")
    if first and last and first > last:
        raise ValidationError("the start date is after the end date", {"start": "after end"})
    query = (select(AuditLog.created_at, func.coalesce(User.email, AuditLog.user_pseudonym), AuditLog.action, AuditLog.entity_type, AuditLog.entity_id,
                    AuditLog.detail)
             .outerjoin(User, User.id == AuditLog.user_id)
             .where(AuditLog.tenant_id == ctx.tenant_id)
             .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
             .limit(max(1, min(int(limit), MAX_ROWS))))
    if family:
        query = query.where(AuditLog.action.like(f"{family.strip()}.%"))
    if who and who.strip():
        query = query.where(User.email.contains(who.strip().lower()))
    if first:
        query = query.where(AuditLog.created_at >= datetime.combine(first, time.min, tzinfo=timezone.utc))
    if last:
        query = query.where(AuditLog.created_at < datetime.combine(last + timedelta(days=1), time.min,
                                                                   tzinfo=timezone.utc))
    with db.session(ctx.tenant_id) as s:
        rows = s.execute(query).all()
    return pd.DataFrame(
        [(when, email or "system", action, entity, entity_id, json.dumps(detail or {}, sort_keys=True, default=str))
         for when, email, action, entity, entity_id, detail in rows], columns=COLUMNS)


def families(db: Database, ctx: TenantContext) -> list[str]:
    """The action families present in the tenant's log, for the page's filter."""
    require_role(ctx, "admin")
    with db.session(ctx.tenant_id) as s:
        actions = s.scalars(select(AuditLog.action).where(AuditLog.tenant_id == ctx.tenant_id).distinct()).all()
    return sorted({a.split(".", 1)[0] for a in actions})
