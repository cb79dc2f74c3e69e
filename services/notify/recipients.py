"""Who a notification goes to: members of the tenant by role, a sponsor's users, or named users (members only)."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.models import Membership, User

OWNERS = ("owner",)
ADMINS = ("owner", "admin")
TEAM = ("owner", "admin", "editor")


@dataclass(frozen=True)
class Recipient:
    user_id: int
    email: str
    sponsor_id: int | None = None  # set for a sponsor user: their notifications carry it


def _members(s: Session, tenant_id: int, *conditions) -> list[Recipient]:
    rows = s.execute(select(User.id, User.email, Membership.sponsor_id, Membership.role)
                     .join(Membership, Membership.user_id == User.id)
                     .where(Membership.tenant_id == tenant_id, User.is_active.is_(True), *conditions)
                     .order_by(User.id)).all()
    return [Recipient(user_id, email, sponsor_id if role == "sponsor" else None)
            for user_id, email, sponsor_id, role in rows]


def with_roles(s: Session, tenant_id: int, roles: Collection[str]) -> list[Recipient]:
    return _members(s, tenant_id, Membership.role.in_(list(roles)))


def sponsor_users(s: Session, tenant_id: int, sponsor_id: int) -> list[Recipient]:
    return _members(s, tenant_id, Membership.role == "sponsor", Membership.sponsor_id == sponsor_id)


def named(s: Session, tenant_id: int, user_ids: Collection[int]) -> list[Recipient]:
    """The named users that are members of this tenant; anyone else is left out."""
    return _members(s, tenant_id, User.id.in_([int(u) for u in user_ids]))
