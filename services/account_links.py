"""Team invitations and password resets: single-use links sent by email through the notifications' SMTP, stored as
hashes, expiring; a reset request answers the same whether or not the address has an account."""
from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from services import audit, lookups
from services.accounts import hash_password, normalize_email, verify_password
from services.db import Database
from services.errors import Conflict, Gone, PermissionDenied, ValidationError
from services.models import AccountToken, Membership, Sponsor, Tenant, User
from services.notify.email import queue_email
from services.tenancy import TenantContext, require_role

logger = logging.getLogger(__name__)

INVITE_TTL = timedelta(days=7)
RESET_TTL = timedelta(hours=1)
INVALID = "this link is invalid, was already used or has expired"
STAFF_ROLES = ("owner", "admin", "editor", "viewer")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _check_password(password: str | None) -> str:
    if not password or len(password) < 8:
        raise ValidationError("the password must be at least 8 characters", {"password": "too short"})
    return password


@dataclass(frozen=True)
class PendingInvite:
    id: int
    email: str
    role: str
    expires_at: datetime


def invite(db: Database, ctx: TenantContext, email: str, role: str, sponsor_id: int | None = None) -> str:
    """Email `email` a link to join this tenant as `role` (admins and above; only owners invite owners). Returns
    the token (the link's last part), which is stored only as a hash."""
    require_role(ctx, "admin")
    email = normalize_email(email)
    if role not in (*STAFF_ROLES, "sponsor"):
        raise ValidationError(f"role must be one of {', '.join((*STAFF_ROLES, 'sponsor'))}", {"role": "unknown"})
    if role == "owner" and ctx.role != "owner":
        raise PermissionDenied("only an owner may invite an owner")
    if (role == "sponsor") != (sponsor_id is not None):
        raise ValidationError("a sponsor user needs a sponsor, and only a sponsor user has one",
                              {"sponsor_id": "required exactly for role sponsor"})
    token = secrets.token_urlsafe(32)
    with db.session(ctx.tenant_id) as s:
        tenant = s.get(Tenant, ctx.tenant_id)
        if sponsor_id is not None and s.scalar(select(Sponsor.id).where(Sponsor.id == sponsor_id,
                                                                        Sponsor.tenant_id == ctx.tenant_id)) is None:
            raise ValidationError("no such sponsor", {"sponsor_id": "no such sponsor"})
        member = s.scalar(select(Membership.id).join(User, User.id == Membership.user_id)
                          .where(Membership.tenant_id == ctx.tenant_id, User.email == email))
        if member is not None:
            raise Conflict(f"{email} is already a member of this network")
        row = AccountToken(tenant_id=ctx.tenant_id, purpose="invite", token_hash=_hash(token), email=email, role=role,
                           sponsor_id=sponsor_id, created_by_user_id=ctx.user_id, expires_at=_now() + INVITE_TTL)
        s.add(row)
        s.flush()
        queue_email(s, ctx.tenant_id, email, f"You are invited to {tenant.name} on Podcast Analytics",
                    f"You are invited to join {tenant.name} as {role}.\n\nThe link works once, for 7 days.",
                    link=f"/login/invite/{token}")
        audit.record(s, ctx, "member.invited", "account_token", row.id, {"email": email, "role": role})
        s.commit()
    return token


def pending_invites(db: Database, ctx: TenantContext) -> list[PendingInvite]:
    require_role(ctx, "admin")
    with db.session(ctx.tenant_id) as s:
        rows = s.execute(select(AccountToken.id, AccountToken.email, AccountToken.role, AccountToken.expires_at)
                         .where(AccountToken.tenant_id == ctx.tenant_id, AccountToken.purpose == "invite",
                                AccountToken.used_at.is_(None), AccountToken.expires_at > _now())
                         .order_by(AccountToken.id.desc())).all()
    return [PendingInvite(*r) for r in rows]


def _enter_token_tenant(s, token: str) -> int:
    """Scope the session to the tenant of the link's token, looked up before any tenant is known; an unknown one is
    Gone."""
    tenant_id = lookups.enter_tenant_of(s, "account_token", _hash(token or ""))
    if tenant_id is None:
        raise Gone(INVALID)
    return tenant_id


def _claim(s, token: str, purpose: str) -> AccountToken:
    """Mark the token used, once: a second use, an unknown or an expired token all get the same Gone."""
    row = s.scalar(select(AccountToken).where(AccountToken.token_hash == _hash(token or ""),
                                              AccountToken.purpose == purpose))
    if row is None or row.used_at is not None or _aware(row.expires_at) <= _now():
        raise Gone(INVALID)
    claimed = s.execute(update(AccountToken).where(AccountToken.id == row.id, AccountToken.used_at.is_(None))
                        .values(used_at=_now())).rowcount
    if claimed != 1:
        raise Gone(INVALID)
    return row


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def invitation(db: Database, token: str) -> tuple[str, str, bool]:
    """(tenant name, email, whether the email already has an account) for a valid invitation, else Gone."""
    with db.session() as s:
        _enter_token_tenant(s, token)
        row = s.scalar(select(AccountToken).where(AccountToken.token_hash == _hash(token or ""),
                                                  AccountToken.purpose == "invite"))
        if row is None or row.used_at is not None or _aware(row.expires_at) <= _now():
            raise Gone(INVALID)
        tenant = s.get(Tenant, row.tenant_id)
        exists = s.scalar(select(User.id).where(User.email == row.email)) is not None
        return tenant.name, row.email, exists


def accept_invite(db: Database, token: str, password: str, name: str = "") -> User:
    """Join the inviting tenant: a new account sets its password; an existing one confirms with its password."""
    with db.session() as s:
        _enter_token_tenant(s, token)
        row = _claim(s, token, "invite")
        user = s.scalar(select(User).where(User.email == row.email))
        if user is None:
            user = User(email=row.email, name=(name or "").strip()[:200],
                        password_hash=hash_password(_check_password(password)))
            s.add(user)
            s.flush()
        elif not verify_password(user.password_hash, password or ""):
            raise ValidationError("wrong password for this existing account", {"password": "wrong password"})
        s.add(Membership(tenant_id=row.tenant_id, user_id=user.id, role=row.role, sponsor_id=row.sponsor_id))
        audit.record(s, TenantContext(row.tenant_id, "owner", user_id=user.id), "member.joined", "user", user.id,
                     {"role": row.role, "invited_by": row.created_by_user_id})
        try:
            s.commit()
        except IntegrityError:
            raise Conflict("this account is already a member of that network") from None
        s.expunge(user)
        return user


def join_by_verified_email(s, email: str, name: str = "") -> User | None:
    """Single sign-on for an address with no account yet: when it holds a pending, unexpired invitation, accept it
    (the newest, if several) as the invitation link would, creating the user in that tenant only, without a password
    (a reset link can set one later). None when there is no such invitation. Runs in the caller's session, as the
    inviting tenant; the caller commits."""
    tenant_id = lookups.tenant_in(s, "invite_email", email)
    if tenant_id is None:
        return None
    with lookups.acting_in(s, tenant_id):
        row = s.scalar(select(AccountToken).where(AccountToken.email == email, AccountToken.purpose == "invite",
                                                  AccountToken.used_at.is_(None), AccountToken.expires_at > _now(),
                                                  AccountToken.tenant_id == tenant_id)
                       .order_by(AccountToken.id.desc()).limit(1))
        if row is None:
            return None
        claimed = s.execute(update(AccountToken).where(AccountToken.id == row.id, AccountToken.used_at.is_(None))
                            .values(used_at=_now())).rowcount
        if claimed != 1:
            return None  # accepted by a racing request a moment ago
        user = User(email=row.email, name=(name or "").strip()[:200], password_hash=None)
        s.add(user)
        s.flush()
        s.add(Membership(tenant_id=row.tenant_id, user_id=user.id, role=row.role, sponsor_id=row.sponsor_id))
        audit.record(s, TenantContext(row.tenant_id, "owner", user_id=user.id), "member.joined", "user", user.id,
                     {"role": row.role, "invited_by": row.created_by_user_id, "method": "oidc"})
    return user


def request_reset(db: Database, email: str) -> None:
    """Email a reset link when the address has an active account in some tenant; nothing otherwise. The caller
    answers the same either way."""
    try:
        email = normalize_email(email)
    except ValidationError:
        email = ""
    with db.session() as s:  # the token and the email belong to the user's first tenant
        user = s.scalar(select(User).where(User.email == email)) if email else None
        memberships = lookups.user_memberships(s, user.id) if user is not None and user.is_active else []
        if not memberships:
            logger.info("password reset asked for no account")
            return
        tenant_id = min(memberships, key=lambda m: m.membership_id).tenant_id
        token = secrets.token_urlsafe(32)
        with lookups.acting_in(s, tenant_id):
            s.add(AccountToken(tenant_id=tenant_id, purpose="reset", token_hash=_hash(token), email=email,
                               user_id=user.id, expires_at=_now() + RESET_TTL))
            queue_email(s, tenant_id, email, "Reset your Podcast Analytics password",
                        "Someone (hopefully you) asked to reset the password of this account.\n\n"
                        "The link works once, for one hour. If it was not you, ignore this email.",
                        link=f"/login/reset/{token}")
        audit.record_for_user(s, user.id, "password.reset_requested")
        s.commit()


def reset_password(db: Database, token: str, password: str) -> int:
    """Set a new password through a reset link; every existing session of the account ends. Returns the user id."""
    _check_password(password)
    with db.session() as s:
        _enter_token_tenant(s, token)
        row = _claim(s, token, "reset")
        user = s.get(User, row.user_id)
        if user is None or not user.is_active:
            raise Gone(INVALID)
        user.password_hash = hash_password(password)
        user.session_generation = (user.session_generation or 0) + 1
        audit.record_for_user(s, user.id, "password.reset")
        s.commit()
        return user.id
