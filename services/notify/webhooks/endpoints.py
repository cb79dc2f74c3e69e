"""A tenant's webhook endpoints: create (the secret is shown once), list, enable/disable, rotate the secret,
delete. Owners and admins manage them on the page; API keys need the write scope to change them."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from services import audit
from services.db import Database
from services.errors import NotFound, PermissionDenied, ValidationError
from services.models import WebhookEndpoint
from services.models.base import utcnow
from services.notify.webhooks.guard import Resolver, UnsafeUrl, check_url, system_resolver
from services.notify.webhooks.signing import new_secret
from services.tenancy import TenantContext, require_role, require_staff

# The event types a tenant can pick on the page; a well-formed type not listed here is accepted too.
KNOWN_EVENT_TYPES = (
    "campaign.created", "campaign.status_changed", "placement.added", "attribution.completed",
    "delivery.under_pacing", "alert.triggered", "import.completed", "import.failed", "feed.failed",
    "webhook.disabled",
)
ALL_EVENTS = "*"
EVENT_TYPE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
MAX_DESCRIPTION = 500
MAX_FILTERS = 50
ROTATION_GRACE = timedelta(hours=24)  # the old secret keeps signing (beside the new one) this long


@dataclass(frozen=True)
class EndpointInfo:
    id: int
    url: str
    description: str
    event_types: tuple[str, ...]  # empty: every event
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    rotating_until: datetime | None

    def as_dict(self) -> dict:
        return {"id": self.id, "url": self.url, "description": self.description,
                "events": list(self.event_types) or [ALL_EVENTS], "enabled": self.enabled,
                "disabled_reason": self.disabled_reason, "failing_since": _iso(self.failing_since),
                "created_at": _iso(self.created_at), "rotating_until": _iso(self.rotating_until)}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def info(row: WebhookEndpoint, now: datetime | None = None) -> EndpointInfo:
    rotating = row.previous_secret_expires_at if len(signing_secrets(row, now or utcnow())) > 1 else None
    return EndpointInfo(row.id, row.url, row.description, tuple(row.event_types or ()), row.enabled,
                        row.disabled_reason, row.failing_since, row.created_at, rotating)


def aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive (they were written in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def require_manager(ctx: TenantContext, write: bool) -> None:
    """Tenant staff only; on the page owners and admins, through the API a key with the needed scope."""
    require_staff(ctx)
    if ctx.scopes:
        needed = "write" if write else "read"
        if needed not in ctx.scopes:
            raise PermissionDenied(f"this key lacks the {needed!r} scope")
        return
    require_role(ctx, "admin")


def parse_event_types(value) -> list[str]:
    """The filter list: every entry a 'noun.verb' type; empty or containing '*' means every event (stored as [])."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise ValidationError("events must be a list of event types", {"events": "a list of event types, or ['*']"})
    if len(value) > MAX_FILTERS:
        raise ValidationError(f"events: at most {MAX_FILTERS} types", {"events": f"at most {MAX_FILTERS} types"})
    bad = {f"events[{i}]": f"{item!r} is not an event type like 'campaign.created'" for i, item in enumerate(value)
           if not isinstance(item, str) or (item != ALL_EVENTS and (len(item) > 64 or not EVENT_TYPE.match(item)))}
    if bad:
        raise ValidationError("events: " + "; ".join(bad.values()), bad)
    return [] if ALL_EVENTS in value else sorted(set(value))


def check_endpoint_url(url, allow_private: bool, resolver: Resolver = system_resolver) -> str:
    """The URL, stripped, once the SSRF guard accepts it; ValidationError on field `url` otherwise."""
    try:
        check_url(url, allow_private, resolver)
    except UnsafeUrl as exc:
        raise ValidationError(f"url: {exc}", {"url": str(exc)}) from None
    return url.strip()


def _description(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise ValidationError(f"description: text of at most {MAX_DESCRIPTION} characters",
                              {"description": f"text of at most {MAX_DESCRIPTION} characters"})
    return value.strip()


def create_endpoint(db: Database, ctx: TenantContext, data: dict, allow_private: bool,
                    resolver: Resolver = system_resolver) -> tuple[EndpointInfo, str]:
    """Create an enabled endpoint from `{"url", "events", "description"}`; returns it and its secret (shown once)."""
    require_manager(ctx, write=True)
    unknown = sorted(set(data) - {"url", "events", "description"})
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}", {name: "unknown field" for name in unknown})
    description = _description(data.get("description"))
    event_types = parse_event_types(data.get("events"))
    url = check_endpoint_url(data.get("url"), allow_private, resolver)
    secret = new_secret()
    with db.session(ctx.tenant_id) as s:
        row = WebhookEndpoint(tenant_id=ctx.tenant_id, url=url, description=description, event_types=event_types,
                              secret=secret, enabled=True, created_by_user_id=ctx.user_id)
        s.add(row)
        s.flush()
        audit.record(s, ctx, "webhook.created", "webhook_endpoint", row.id, {"url": url, "events": event_types})
        s.commit()
        return info(row), secret


def list_endpoints(db: Database, ctx: TenantContext) -> list[EndpointInfo]:
    require_manager(ctx, write=False)
    with db.session(ctx.tenant_id) as s:
        rows = s.scalars(select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == ctx.tenant_id)
                         .order_by(WebhookEndpoint.id)).all()
        return [info(row) for row in rows]


def load_endpoint(s: Session, tenant_id: int, endpoint_id: int) -> WebhookEndpoint:
    row = s.scalar(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                                 WebhookEndpoint.tenant_id == tenant_id))
    if row is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return row


def get_endpoint(db: Database, ctx: TenantContext, endpoint_id: int) -> EndpointInfo:
    require_manager(ctx, write=False)
    with db.session(ctx.tenant_id) as s:
        return info(load_endpoint(s, ctx.tenant_id, endpoint_id))


def set_enabled(db: Database, ctx: TenantContext, endpoint_id: int, enabled: bool) -> EndpointInfo:
    """Enable or disable; enabling starts a fresh failure streak."""
    require_manager(ctx, write=True)
    with db.session(ctx.tenant_id) as s:
        row = load_endpoint(s, ctx.tenant_id, endpoint_id)
        row.enabled = enabled
        row.disabled_reason = None if enabled else "disabled by a user"
        row.failing_since = None
        audit.record(s, ctx, "webhook.enabled" if enabled else "webhook.disabled", "webhook_endpoint", row.id)
        s.commit()
        return info(row)


def rotate_secret(db: Database, ctx: TenantContext, endpoint_id: int) -> str:
    """A new secret (returned once); the old one keeps signing beside it for ROTATION_GRACE."""
    require_manager(ctx, write=True)
    secret = new_secret()
    with db.session(ctx.tenant_id) as s:
        row = load_endpoint(s, ctx.tenant_id, endpoint_id)
        row.previous_secret, row.previous_secret_expires_at = row.secret, utcnow() + ROTATION_GRACE
        row.secret = secret
        audit.record(s, ctx, "webhook.secret_rotated", "webhook_endpoint", row.id)
        s.commit()
    return secret


def delete_endpoint(db: Database, ctx: TenantContext, endpoint_id: int) -> None:
    """Remove an endpoint with its delivery log."""
    require_manager(ctx, write=True)
    with db.session(ctx.tenant_id) as s:
        row = load_endpoint(s, ctx.tenant_id, endpoint_id)
        audit.record(s, ctx, "webhook.deleted", "webhook_endpoint", row.id, {"url": row.url})
        s.delete(row)
        s.commit()


def signing_secrets(row: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one inside its grace period."""
    rotating = row.previous_secret and row.previous_secret_expires_at and aware(row.previous_secret_expires_at) > now
    return [row.secret, row.previous_secret] if rotating else [row.secret]


def matches(row: WebhookEndpoint, event_type: str) -> bool:
    return row.enabled and (not row.event_types or event_type in row.event_types)
