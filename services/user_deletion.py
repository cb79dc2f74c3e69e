"""Deleting a user: an owner or admin removes a member from their tenant (typing the member's email to confirm), or
users delete their own account (confirming with their password). Removing a member who also belongs to other tenants
removes only that membership; otherwise, and always for one's own account, the person is erased everywhere.

What erasing a user does, table by table (every table with a user id or a user's email):
- users: the row goes (email, name, password hash, MFA secrets, last sign-in). Login sessions and remembered MFA
  devices are cookies bound to that row (its session and MFA generations), so they stop working with it.
- memberships, mfa_recovery_codes, notifications, notification_preferences, report_subscriptions, report_runs:
  the user's rows are deleted.
- account_tokens: invitations and password resets for the user (by id or by email) are deleted; the ones the user
  created keep working, with created_by_user_id cleared.
- api_keys, alert_rules, embeds, webhook_endpoints (created_by_user_id): kept, creator cleared; alert_rules also
  drop the user from their recipients.
- email_log: emails sent to the user's address are deleted; the address is blanked in the subject and bodies of
  emails to others, as in the title and body of other users' notifications.
- sponsors.contact_email equal to the user's email is cleared.
- audit_log: rows are kept. The user's id becomes a stable pseudonym (user_pseudonym, "deleted-user-" + 12 hex of
  an HMAC of the id under SECRET_KEY) where they acted or were the subject, and the email is blanked in the details.
The sign-in throttle (services.login_throttle) keys accounts by a hash of the email and forgets it within a day.
Everything happens in one transaction, audited as user.deleted with the pseudonym; a failure leaves nothing
half-deleted."""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
from contextlib import nullcontext

from sqlalchemy import String, cast, delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from services import accounts, audit, lookups
from services.db import Database
from services.errors import AuthenticationFailed, Conflict, NotFound, PermissionDenied, ValidationError
from services.models import (AccountToken, AlertRule, ApiKey, AuditLog, EmailMessage, Embed, Membership,
                             MfaRecoveryCode, Notification, NotificationPreference, ReportRun, ReportSubscription,
                             Sponsor, User, WebhookEndpoint)
from services.tenancy import TenantContext, require_role, require_staff

logger = logging.getLogger(__name__)

CREATED_BY = (ApiKey, AlertRule, Embed, WebhookEndpoint, AccountToken)
DELETED_BY_USER = (MfaRecoveryCode, Notification, NotificationPreference, ReportRun, ReportSubscription)
# Free text that may mention the user's address in rows that belong to others.
TEXT_MENTIONS = (Notification.title, Notification.body, EmailMessage.subject, EmailMessage.text_body,
                 EmailMessage.html_body)


def pseudonym(secret_key: str, user_id: int) -> str:
    """The same for one user every time (entries stay linkable to each other), and not reversible to the id."""
    digest = hmac.new(secret_key.encode(), f"user:{user_id}".encode(), hashlib.sha256).hexdigest()
    return f"deleted-user-{digest[:12]}"


def remove_member(db: Database, ctx: TenantContext, secret_key: str, user_id: int, typed_email: str) -> str:
    """Remove a member from the asking tenant (owners and admins; only an owner removes an owner; the last owner
    stays). Returns "membership" when the user still belongs to other tenants, else "account" (erased)."""
    require_staff(ctx)
    require_role(ctx, "admin")
    with db.session(ctx.tenant_id) as s:
        row = s.execute(select(Membership, User.email).join(User, User.id == Membership.user_id)
                        .where(Membership.tenant_id == ctx.tenant_id, Membership.user_id == user_id)).first()
        if row is None:
            raise NotFound(f"no member {user_id} in this tenant")
        member, email = row
        if (typed_email or "").strip().lower() != email.lower():
            raise ValidationError(f"type the member's email ({email}) to confirm", {"email": "does not match"})
        if member.role == "owner" and ctx.role != "owner":
            raise PermissionDenied("only an owner may remove an owner")
        _refuse_last_owner(s, user_id, [ctx.tenant_id])
        if any(m.tenant_id != ctx.tenant_id for m in lookups.user_memberships(s, user_id)):
            _drop_membership(s, ctx.tenant_id, user_id)
            audit.record(s, ctx, "membership.removed", "user", user_id, {"role": member.role})
            s.commit()
            logger.info("member removed", extra={"member_user_id": user_id, "tenant_id": ctx.tenant_id})
            return "membership"
        _erase(s, secret_key, user_id, email, actor_id=ctx.user_id)
        s.commit()
    logger.info("user deleted by an admin", extra={"tenant_id": ctx.tenant_id})
    return "account"


def delete_own_account(db: Database, secret_key: str, user_id: int, password: str) -> None:
    """Users erase their own account everywhere, confirming with their password; refused while they are the last
    owner of a tenant."""
    with db.session() as s:  # the user's tenants are looked up; each is changed under its own policy
        user = s.get(User, user_id)
        if user is None:
            raise NotFound("no such account")
        if not accounts.verify_password(user.password_hash, password or ""):
            raise AuthenticationFailed("that password is not right")
        tenants = [m.tenant_id for m in lookups.user_memberships(s, user_id)]
        _refuse_last_owner(s, user_id, tenants)
        _erase(s, secret_key, user_id, user.email, actor_id=user_id)
        s.commit()
    logger.info("user deleted their account")


def _refuse_last_owner(s: Session, user_id: int, tenant_ids: list[int]) -> None:
    for membership in lookups.user_memberships(s, user_id):
        if membership.role != "owner" or membership.tenant_id not in tenant_ids:
            continue
        name = membership.tenant_name
        with lookups.acting_in(s, membership.tenant_id):
            owners = s.scalar(select(func.count(Membership.id)).where(Membership.tenant_id == membership.tenant_id,
                                                                      Membership.role == "owner")) or 0
        if owners <= 1:
            raise Conflict(f"this is the last owner of {name}: make someone else owner first (or delete the network)")


def _drop_membership(s: Session, tenant_id: int, user_id: int) -> None:
    """One tenant's part of a user who stays a member elsewhere: the membership and what was theirs in it."""
    for model in (Notification, NotificationPreference, ReportRun, ReportSubscription):
        s.execute(delete(model).where(model.tenant_id == tenant_id, model.user_id == user_id))
    _drop_recipient(s, user_id, tenant_id)
    s.execute(delete(Membership).where(Membership.tenant_id == tenant_id, Membership.user_id == user_id))
    s.execute(update(User).where(User.id == user_id).values(session_generation=User.session_generation + 1))


def _drop_recipient(s: Session, user_id: int, tenant_id: int | None = None) -> None:
    """Take the user off alert rules' recipients (a JSON list, read here: alert rules are few)."""
    query = select(AlertRule) if tenant_id is None else select(AlertRule).where(AlertRule.tenant_id == tenant_id)
    for rule in s.scalars(query):
        if user_id in (rule.recipients or []):
            rule.recipients = [r for r in rule.recipients if r != user_id]


def _scrub(value, email: str):
    """The entry's details with the email blanked wherever it appears (and any field named like an email)."""
    if isinstance(value, dict):
        return {k: "" if "email" in str(k).lower() and value[k] else _scrub(v, email) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, email) for v in value]
    if isinstance(value, str) and email in value.lower():
        return re.sub(re.escape(email), "", value, flags=re.IGNORECASE)
    return value


def _erase(s: Session, secret_key: str, user_id: int, email: str, actor_id: int | None) -> None:
    email = email.lower()
    alias = pseudonym(secret_key, user_id)
    tenants = [m.tenant_id for m in lookups.user_memberships(s, user_id)]
    for tenant_id in _tenants_with_traces(s, user_id, email):
        with lookups.acting_in(s, tenant_id) if tenant_id is not None else nullcontext():
            _erase_rows(s, user_id, email, alias)
    s.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    s.execute(delete(User).where(User.id == user_id))
    own = actor_id == user_id
    for tenant_id in tenants:
        with lookups.acting_in(s, tenant_id):
            s.add(AuditLog(tenant_id=tenant_id, user_id=None if own else actor_id,
                           user_pseudonym=alias if own else None, action="user.deleted", entity_type="user",
                           entity_id=None, detail={"user": alias, "by": "self" if own else "admin"}))


def _tenants_with_traces(s: Session, user_id: int, email: str) -> list[int | None]:
    """The tenants holding anything of the user, each to be erased under its own policy (PostgreSQL: a lookup of
    ids only, migration 0031); on SQLite one unscoped pass (None) sees every tenant."""
    if s.get_bind().dialect.name != "postgresql":
        return [None]
    return list(s.scalars(text("SELECT app_user_traces(:user, :email)"), {"user": user_id, "email": email}))


def _erase_rows(s: Session, user_id: int, email: str, alias: str) -> None:
    """Every trace of the user in the rows the session sees (one tenant's, on PostgreSQL)."""
    for entry in s.scalars(select(AuditLog).where(or_(
            AuditLog.user_id == user_id, (AuditLog.entity_type == "user") & (AuditLog.entity_id == user_id),
            func.lower(cast(AuditLog.detail, String)).contains(email)))):
        if entry.user_id == user_id:
            entry.user_id, entry.user_pseudonym = None, alias
        detail = _scrub(dict(entry.detail or {}), email)
        if entry.entity_type == "user" and entry.entity_id == user_id:
            entry.entity_id, detail = None, {**detail, "user": alias}
        entry.detail = detail
    for model in DELETED_BY_USER:
        s.execute(delete(model).where(model.user_id == user_id))
    s.execute(delete(AccountToken).where(or_(AccountToken.user_id == user_id, func.lower(AccountToken.email) == email)))
    for model in CREATED_BY:
        s.execute(update(model).where(model.created_by_user_id == user_id).values(created_by_user_id=None))
    _drop_recipient(s, user_id)  # in every tenant: a former membership may have left them on a rule
    s.execute(delete(EmailMessage).where(func.lower(EmailMessage.to_address) == email))
    for column in TEXT_MENTIONS:  # emails are stored lower-case, as normalize_email leaves them
        s.execute(update(column.class_).where(func.lower(column).contains(email))
                  .values({column.key: func.replace(column, email, "")}))
    s.execute(update(Sponsor).where(func.lower(Sponsor.contact_email) == email).values(contact_email=None))
    s.execute(delete(Membership).where(Membership.user_id == user_id))

