"""Each user's choice, per event kind and channel (in-app, email), of what reaches them; everything is on until
they turn it off."""
from __future__ import annotations

from collections.abc import Collection, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.db import Database
from services.errors import ValidationError
from services.models import CHANNELS, NotificationPreference
from services.tenancy import TenantContext

# The event kinds a user can be notified of, with how the settings show them.
KINDS: dict[str, str] = {
    "campaign.created": "Recommendations ready for a new campaign",
    "campaign.status_changed": "A campaign goes live",
    "delivery.under_pacing": "A live campaign falls behind pacing",
    "alert.triggered": "An alert rule triggers",
    "webhook.disabled": "A webhook endpoint is disabled",
    "import.failed": "A log import fails",
    "feed.failed": "A feed import fails",
}


def _check(kind: str, channel: str) -> None:
    errors = {}
    if kind not in KINDS:
        errors["kind"] = f"one of {', '.join(KINDS)}"
    if channel not in CHANNELS:
        errors["channel"] = f"one of {', '.join(CHANNELS)}"
    if errors:
        raise ValidationError(f"unknown notification preference {kind!r}/{channel!r}", errors)


def get_preferences(db: Database, ctx: TenantContext) -> dict[tuple[str, str], bool]:
    """Every (kind, channel) with whether this user receives it."""
    with db.session(ctx.tenant_id) as s:
        saved = {(p.kind, p.channel): p.enabled for p in s.scalars(select(NotificationPreference).where(
            NotificationPreference.tenant_id == ctx.tenant_id, NotificationPreference.user_id == ctx.user_id))}
    return {(kind, channel): saved.get((kind, channel), True) for kind in KINDS for channel in CHANNELS}


def save_preferences(db: Database, ctx: TenantContext, enabled: Iterable[tuple[str, str]]) -> dict[tuple[str, str], bool]:
    """Keep exactly the (kind, channel) pairs in `enabled` on for this user, every other one off."""
    chosen = set()
    for kind, channel in enabled:
        _check(kind, channel)
        chosen.add((kind, channel))
    with db.session(ctx.tenant_id) as s:
        saved = {(p.kind, p.channel): p for p in s.scalars(select(NotificationPreference).where(
            NotificationPreference.tenant_id == ctx.tenant_id, NotificationPreference.user_id == ctx.user_id))}
        for kind in KINDS:
            for channel in CHANNELS:
                row = saved.get((kind, channel))
                if row is None:
                    row = NotificationPreference(tenant_id=ctx.tenant_id, user_id=ctx.user_id, kind=kind,
                                                 channel=channel)
                    s.add(row)
                row.enabled = (kind, channel) in chosen
        s.commit()
    return get_preferences(db, ctx)


def recipients_wanting(s: Session, tenant_id: int, user_ids: Collection[int], kind: str, channel: str) -> set[int]:
    """Those of `user_ids` who have not turned `kind` off on `channel`."""
    off = set(s.scalars(select(NotificationPreference.user_id).where(
        NotificationPreference.tenant_id == tenant_id, NotificationPreference.user_id.in_(list(user_ids)),
        NotificationPreference.kind == kind, NotificationPreference.channel == channel,
        NotificationPreference.enabled.is_(False))))
    return {user_id for user_id in user_ids if user_id not in off}
