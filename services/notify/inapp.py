"""In-app notifications: the bell's unread count, the notifications page, mark as read. A user sees only their own
notifications in the current tenant; a sponsor user only those of their sponsor."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.db import Database
from services.errors import NotFound
from services.models import Notification
from services.models.base import utcnow
from services.notify.recipients import Recipient
from services.tenancy import TenantContext

MAX_TITLE = 200


@dataclass(frozen=True)
class NotificationRow:
    id: int
    kind: str
    title: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None

    @property
    def unread(self) -> bool:
        return self.read_at is None


def add(s: Session, tenant_id: int, recipients: Iterable[Recipient], kind: str, title: str, body: str = "",
        link: str | None = None, event_id: int | None = None) -> int:
    """Add a notification for each recipient in `s` (the caller commits); with an event id, a recipient who already
    has this event's notification gets no second one. Returns how many were added."""
    recipients = list(recipients)
    have = set()
    if event_id is not None and recipients:
        have = set(s.scalars(select(Notification.user_id).where(
            Notification.event_id == event_id, Notification.user_id.in_([r.user_id for r in recipients]))))
    added = 0
    for r in recipients:
        if r.user_id in have:
            continue
        s.add(Notification(tenant_id=tenant_id, user_id=r.user_id, sponsor_id=r.sponsor_id, event_id=event_id,
                           kind=kind, title=title[:MAX_TITLE], body=body, link=link))
        have.add(r.user_id)
        added += 1
    return added


def _mine(stmt, ctx: TenantContext):
    stmt = stmt.where(Notification.tenant_id == ctx.tenant_id, Notification.user_id == ctx.user_id)
    if ctx.is_sponsor:  # a sponsor user sees only what was meant for their sponsor
        stmt = stmt.where(Notification.sponsor_id == ctx.sponsor_id)
    return stmt


def list_notifications(db: Database, ctx: TenantContext, unread_only: bool = False,
                       limit: int = 100) -> list[NotificationRow]:
    with db.session(ctx.tenant_id) as s:
        stmt = _mine(select(Notification), ctx)
        if unread_only:
            stmt = stmt.where(Notification.read_at.is_(None))
        rows = s.scalars(stmt.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)).all()
    return [NotificationRow(n.id, n.kind, n.title, n.body, n.link, n.created_at, n.read_at) for n in rows]


def unread_count(db: Database, ctx: TenantContext) -> int:
    """The number on the bell."""
    if ctx.user_id is None:
        return 0
    with db.session(ctx.tenant_id) as s:
        return s.scalar(_mine(select(func.count(Notification.id)), ctx).where(Notification.read_at.is_(None))) or 0


def mark_read(db: Database, ctx: TenantContext, notification_id: int) -> None:
    """Mark one of this user's notifications read; another user's is simply not found."""
    with db.session(ctx.tenant_id) as s:
        row = s.scalar(_mine(select(Notification), ctx).where(Notification.id == notification_id))
        if row is None:
            raise NotFound(f"no notification {notification_id}")
        if row.read_at is None:
            row.read_at = utcnow()
        s.commit()


def mark_all_read(db: Database, ctx: TenantContext) -> int:
    """Mark every unread notification of this user read; returns how many."""
    with db.session(ctx.tenant_id) as s:
        ids = s.scalars(_mine(select(Notification.id), ctx).where(Notification.read_at.is_(None))).all()
        if ids:
            s.execute(update(Notification).where(Notification.id.in_(ids)).values(read_at=utcnow()))
        s.commit()
    return len(ids)
