"""Tenants, users and memberships: creation, password login, and resolving who a user is inside a tenant."""
from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from services.db import Database
from services.errors import AuthenticationFailed, Conflict, NotFound, PermissionDenied, ValidationError
from services import audit, lookups
from services.models import DEDUPE_WINDOWS, ROLES, Membership, Sponsor, Tenant, User
from services.models.base import utcnow
from services.tenancy import TenantContext, require_role

logger = logging.getLogger(__name__)

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_hasher = PasswordHasher()
# Verified against when the email is unknown, so a miss costs as long as a hit.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


@dataclass(frozen=True)
class MembershipInfo:
    tenant_id: int
    tenant_slug: str
    tenant_name: str
    role: str
    sponsor_id: int | None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email):
        raise ValidationError(f"{email!r} is not an email address", {"email": "not an email address"})
    return email


def create_tenant(db: Database, slug: str, name: str) -> Tenant:
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise ValidationError("slug must be 1-63 lowercase letters, digits or hyphens",
                              {"slug": "use lowercase letters, digits and hyphens"})
    if not (name or "").strip():
        raise ValidationError("name is required", {"name": "required"})
    with db.session(system=True) as s:
        if s.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
            raise Conflict(f"tenant {slug!r} already exists")
        tenant = Tenant(slug=slug, name=name.strip())
        s.add(tenant)
        s.commit()
        logger.info("tenant created", extra={"tenant_id": tenant.id})
        return tenant


def configure_tenant(db: Database, slug: str, dedupe_window: str | None = None, timezone: str | None = None,
                     ctx: TenantContext | None = None) -> Tenant:
    """Change a tenant's measurement settings (owners and admins; operators pass no context)."""
    if ctx is not None:
        require_role(ctx, "admin")
    if dedupe_window is not None and dedupe_window not in DEDUPE_WINDOWS:
        raise ValidationError(f"dedupe window must be one of {', '.join(DEDUPE_WINDOWS)}",
                              {"dedupe_window": "unknown window"})
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"unknown time zone {timezone!r}", {"timezone": "unknown time zone"}) from None
    tenant = get_tenant_by_slug(db, slug, ctx)
    with db.session(tenant.id) as s:
        row = s.get(Tenant, tenant.id)
        changes = {}
        if dedupe_window is not None and dedupe_window != row.dedupe_window:
            changes["dedupe_window"] = [row.dedupe_window, dedupe_window]
            row.dedupe_window = dedupe_window
        if timezone is not None and timezone != row.timezone:
            changes["timezone"] = [row.timezone, timezone]
            row.timezone = timezone
        if changes:
            audit.record(s, ctx or TenantContext(tenant_id=tenant.id, role="owner"), "tenant.configured", "tenant",
                         tenant.id, changes)
        s.commit()
        return row


def tenant_ids(db: Database) -> list[int]:
    """Every tenant's id, for the periodic jobs that visit each tenant in turn."""
    with db.session(system=True) as s:
        return list(s.scalars(select(Tenant.id).order_by(Tenant.id)))


def get_tenant_by_slug(db: Database, slug: str, ctx: TenantContext | None = None) -> Tenant:
    """The tenant with this slug: within the context's own tenant (the web), or any (operators' commands)."""
    with db.session(ctx.tenant_id) if ctx is not None else db.session(system=True) as s:
        tenant = s.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None or (ctx is not None and tenant.id != ctx.tenant_id):
            raise NotFound(f"no tenant with slug {slug!r}")
        return tenant


def create_user(db: Database, email: str, tenant_slug: str, role: str, password: str | None = None,
                sponsor_id: int | None = None, name: str = "") -> tuple[User, str | None]:
    """Create the user (or reuse an existing one) and add them to the tenant with `role`.

    Returns the user and the generated password when none was given for a new user."""
    email = normalize_email(email)
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}", {"role": "unknown role"})
    if (role == "sponsor") != (sponsor_id is not None):
        raise ValidationError("a sponsor user needs a sponsor, and only a sponsor user has one",
                              {"sponsor_id": "required exactly for role sponsor"})
    if password is not None and len(password) < 8:
        raise ValidationError("password must be at least 8 characters", {"password": "too short"})
    tenant = get_tenant_by_slug(db, tenant_slug)
    generated = None
    with db.session(tenant.id) as s:
        if sponsor_id is not None and s.scalar(
                select(Sponsor.id).where(Sponsor.id == sponsor_id, Sponsor.tenant_id == tenant.id)) is None:
            raise ValidationError(f"sponsor {sponsor_id} is not in tenant {tenant_slug!r}", {"sponsor_id": "not found"})
        user = s.scalar(select(User).where(User.email == email))
        if user is None:
            if password is None:
                password = generated = secrets.token_urlsafe(12)
            user = User(email=email, name=name, password_hash=hash_password(password))
            s.add(user)
            s.flush()
        elif password is not None:
            user.password_hash = hash_password(password)
        s.add(Membership(tenant_id=tenant.id, user_id=user.id, role=role, sponsor_id=sponsor_id))
        try:
            s.commit()
        except IntegrityError:
            raise Conflict(f"{email} is already a member of {tenant_slug!r}") from None
        return user, generated


def authenticate(db: Database, email: str, password: str) -> User:
    """Check a password login; the same error whether the email or the password is wrong."""
    email = (email or "").strip().lower()
    with db.session() as s:  # users are no tenant's rows; the audit entries go to each of the user's tenants
        user = s.scalar(select(User).where(User.email == email))
        ok = verify_password(user.password_hash if user else None, password or "")
        if not ok or user is None or not user.is_active:
            if user is not None:  # a known account: its tenants' audit logs show the failure
                audit.record_for_user(s, user.id, "login.failed", {"reason": "inactive" if ok else "password"})
                s.commit()
            raise AuthenticationFailed("wrong email or password")
        user.last_login_at = utcnow()
        audit.record_for_user(s, user.id, "login.succeeded")
        s.commit()
        return user


def get_user(db: Database, user_id: int) -> User | None:
    with db.session() as s:
        return s.get(User, user_id)


def memberships_for_user(db: Database, user_id: int) -> list[MembershipInfo]:
    with db.session() as s:  # before a tenant is chosen: the lookup answers for this user only
        rows = lookups.user_memberships(s, user_id)
    return [MembershipInfo(m.tenant_id, m.tenant_slug, m.tenant_name, m.role, m.sponsor_id) for m in rows]


def resolve_context(db: Database, user_id: int, tenant_id: int | None = None) -> TenantContext | None:
    """The user's context in `tenant_id` (or their first tenant); None when they belong to none."""
    memberships = memberships_for_user(db, user_id)
    chosen = next((m for m in memberships if m.tenant_id == tenant_id), memberships[0] if memberships else None)
    if chosen is None:
        return None
    return TenantContext(tenant_id=chosen.tenant_id, role=chosen.role, user_id=user_id,
                         sponsor_id=chosen.sponsor_id, tenant_slug=chosen.tenant_slug, tenant_name=chosen.tenant_name)


def count_users(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count(User.id))) or 0


def session_generation(db: Database, user_id: int) -> int | None:
    """The number every live session of this user must carry (None: no such user)."""
    with db.session() as s:
        return s.scalar(select(User.session_generation).where(User.id == user_id))


def _bump_generation(s, user_id: int) -> None:
    s.execute(update(User).where(User.id == user_id).values(session_generation=User.session_generation + 1))


def sign_out_everywhere(db: Database, user_id: int, ctx: TenantContext | None = None) -> None:
    """End every session of this user, on every device (the next request of each is signed out); audited in the
    asking tenant when there is one."""
    with db.session(ctx.tenant_id if ctx else None, system=ctx is None) as s:
        _bump_generation(s, user_id)
        if ctx is not None:
            audit.record(s, ctx, "user.signed_out_everywhere", "user", user_id)
        s.commit()
    logger.info("signed out everywhere", extra={"login_user_id": user_id})


def change_role(db: Database, ctx: TenantContext, user_id: int, role: str) -> MembershipInfo:
    """Change a member's role in the asking tenant (owners and admins; only an owner grants or takes away 'owner',
    and the last owner stays). The member's sessions end, so the new role applies from their next sign-in."""
    require_role(ctx, "admin")
    if role not in ROLES or role == "sponsor":
        raise ValidationError(f"role must be one of {', '.join(r for r in ROLES if r != 'sponsor')}",
                              {"role": "unknown role"})
    with db.session(ctx.tenant_id) as s:
        member = s.scalar(select(Membership).where(Membership.tenant_id == ctx.tenant_id,
                                                   Membership.user_id == user_id))
        if member is None:
            raise NotFound(f"no member {user_id} in this tenant")
        if member.role == "sponsor":
            raise ValidationError("a sponsor user's role is tied to their sponsor", {"role": "sponsor user"})
        if "owner" in (role, member.role) and ctx.role != "owner":
            raise PermissionDenied("only an owner may grant or take away the owner role")
        if member.role == "owner" and role != "owner" and (s.scalar(select(func.count(Membership.id)).where(
                Membership.tenant_id == ctx.tenant_id, Membership.role == "owner")) or 0) <= 1:
            raise Conflict("the tenant's last owner keeps the owner role")
        before = member.role
        if before != role:
            member.role = role
            _bump_generation(s, user_id)
            audit.record(s, ctx, "membership.role_changed", "user", user_id, {"role": [before, role]})
        s.commit()
    if before != role:
        logger.info("role changed", extra={"member_user_id": user_id, "role": role})
    return next(m for m in memberships_for_user(db, user_id) if m.tenant_id == ctx.tenant_id)


@dataclass(frozen=True)
class Member:
    user_id: int
    email: str
    name: str
    role: str
    sponsor: str | None
    last_login_at: datetime | None


def list_members(db: Database, ctx: TenantContext) -> list[Member]:
    """The tenant's members, owners first (tenant staff only)."""
    require_role(ctx, "viewer")
    with db.session(ctx.tenant_id) as s:
        rows = s.execute(select(User.id, User.email, User.name, Membership.role, Sponsor.name, User.last_login_at)
                         .join(Membership, Membership.user_id == User.id)
                         .outerjoin(Sponsor, Sponsor.id == Membership.sponsor_id)
                         .where(Membership.tenant_id == ctx.tenant_id)).all()
    order = {r: i for i, r in enumerate(("owner", "admin", "editor", "viewer", "sponsor"))}
    return sorted((Member(*r) for r in rows), key=lambda m: (order[m.role], m.email))
