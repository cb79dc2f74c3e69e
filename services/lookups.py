"""What the web must learn before it knows the tenant, and nothing more: whose API key, embed, prefix, tracking link,
pixel or account link a key is (a tenant id), which tenants a user belongs to, and the operators' gauges.

On PostgreSQL these are narrow SECURITY DEFINER functions (migration 0031): the web role calls them and then works
in a session scoped to the tenant they name, so it never needs the worker role or a cross-tenant mode. SQLite has one
process role and no policies: the same questions are plain queries."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from services.db import Database
from services.models import AccountToken, ApiKey, Embed, Membership, Podcast, Sponsor, Tenant
from services.models.attribution import TrackingLink
from services.models.measurement import CountingState, DownloadRequest
from services.models.notify import EmailMessage
from services.models.webhooks import WebhookDelivery

# kind -> (the row's tenant column, the key column): the lookups app_tenant_of answers.
KINDS = {
    "api_key": (ApiKey.tenant_id, ApiKey.key_hash),
    "embed": (Embed.tenant_id, Embed.id),
    "prefix": (Podcast.tenant_id, Podcast.prefix_key),
    "link": (TrackingLink.tenant_id, TrackingLink.code),
    "pixel": (Sponsor.tenant_id, Sponsor.pixel_key),
    "account_token": (AccountToken.tenant_id, AccountToken.token_hash),
}


@dataclass(frozen=True)
class UserMembership:
    membership_id: int
    tenant_id: int
    tenant_slug: str
    tenant_name: str
    role: str
    sponsor_id: int | None


def _first_uncounted_request():
    """Per tenant (a row of tenants outer-joined to counting_state): its first raw request after its last completed
    count, one probe of the (tenant_id, ts) index. As app_ops_reading() (migration 0032) on PostgreSQL."""
    return (select(func.min(DownloadRequest.ts))
            .where(DownloadRequest.tenant_id == Tenant.id,
                   DownloadRequest.ts > func.coalesce(CountingState.updated_at, datetime.min))
            .correlate(Tenant, CountingState).scalar_subquery())


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def tenant_of(db: Database, kind: str, key: str | int | None) -> int | None:
    """The tenant that owns the row with this key (None: no such row)."""
    if key is None or key == "":
        return None
    with db.session() as s:
        return tenant_in(s, kind, key)


def tenant_in(session: Session, kind: str, key: str | int | None) -> int | None:
    """tenant_of inside the caller's session (any tenant scope)."""
    if key is None or key == "":
        return None
    if _postgres(session):
        return session.scalar(text("SELECT app_tenant_of(:kind, :key)"), {"kind": kind, "key": str(key)})
    if kind == "invite_email":
        return session.scalar(select(AccountToken.tenant_id).where(
            AccountToken.email == key, AccountToken.purpose == "invite", AccountToken.used_at.is_(None),
            AccountToken.expires_at > datetime.now(timezone.utc)).order_by(AccountToken.id.desc()).limit(1))
    tenant_column, key_column = KINDS[kind]
    if kind == "embed":
        if not str(key).isdigit() or len(str(key)) > 18:
            return None
        key = int(key)
    return session.scalar(select(tenant_column).where(key_column == key))


def enter_tenant_of(session: Session, kind: str, key: str | int | None) -> int | None:
    """tenant_of, and the session's transaction (and the session's next ones) then belong to that tenant: on
    PostgreSQL the lookup and the scoping are one statement. Call it first in a session opened without a tenant;
    None (no such row) leaves the session without one."""
    if key is None or key == "":
        return None
    if not _postgres(session):
        tenant_id = tenant_in(session, kind, key)
    else:
        scoped = session.scalar(text("SELECT set_config('app.tenant_id', coalesce(app_tenant_of(:kind, :key)::text, "
                                     "''), true)"), {"kind": kind, "key": str(key)})
        tenant_id = int(scoped) if scoped else None
    if tenant_id is not None:
        session.info["tenant_id"] = tenant_id
    return tenant_id


def user_memberships(session: Session, user_id: int) -> list[UserMembership]:
    """The user's memberships with their tenants, by tenant name (a session of any tenant scope)."""
    if _postgres(session):
        rows = session.execute(text("SELECT membership_id, tenant_id, slug, name, role, sponsor_id "
                                    "FROM app_user_memberships(:user)"), {"user": user_id}).all()
    else:
        rows = session.execute(
            select(Membership.id, Membership.tenant_id, Tenant.slug, Tenant.name, Membership.role, Membership.sponsor_id)
            .join(Tenant, Tenant.id == Membership.tenant_id).where(Membership.user_id == user_id)
            .order_by(Tenant.name, Membership.id)).all()
    return [UserMembership(*row) for row in rows]


@contextmanager
def acting_in(session: Session, tenant_id: int) -> Iterator[Session]:
    """Within the session's transaction, write and read as `tenant_id` (the user's own rows in each of their
    tenants: audit entries of an account event, a membership left); back to the session's own scope after.
    Flushes at both ends, so the rows meet the policy of the tenant they belong to."""
    if not _postgres(session):
        yield session
        return
    session.flush()
    _scope(session, tenant_id)
    try:
        yield session
        session.flush()
    except SQLAlchemyError:
        raise  # the transaction failed: its rollback restores the scope (a local setting) with everything else
    except BaseException:
        _scope(session, session.info.get("tenant_id"))
        raise
    _scope(session, session.info.get("tenant_id"))


def _scope(session: Session, tenant_id: int | None) -> None:
    session.execute(text("SELECT set_config('app.tenant_id', :tenant, true)"),
                    {"tenant": "" if tenant_id is None else str(tenant_id)})


def ops_reading(db: Database) -> dict[str, dict[tuple[str, ...], float]]:
    """Counts across tenants for /metrics: when the oldest raw request no count has seen yet arrived (epoch seconds;
    absent when every tenant is counted), deliveries by status."""
    with db.session() as s:
        if _postgres(s):
            rows = s.execute(text("SELECT metric, label, value FROM app_ops_reading()")).all()
        else:
            oldest = min(filter(None, s.scalars(select(_first_uncounted_request()).select_from(Tenant).outerjoin(
                CountingState, CountingState.tenant_id == Tenant.id))), default=None)
            if oldest is not None and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=timezone.utc)
            rows = [("oldest_uncounted_request", None, oldest.timestamp())] if oldest is not None else []
            rows += [("webhook_deliveries", status, n) for status, n in s.execute(
                select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status))]
            rows += [("emails", status, n) for status, n in s.execute(
                select(EmailMessage.status, func.count()).group_by(EmailMessage.status))]
    reading: dict[str, dict[tuple[str, ...], float]] = {}
    for metric, label, value in rows:
        reading.setdefault(metric, {})[() if label is None else (label,)] = float(value)
    return reading
