"""A sponsor's pixel as its install page shows it: the key and copy-paste snippet, the last events received and
the pixel calls refused by reason, so the sponsor can check the install. Staff (editors and above) see any of the
tenant's sponsors; a sponsor user only its own. Never a raw IP (none is stored) nor a household key."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.db import Database
from services.measurement.store import view
from services.models import AttributionEvent, AttributionRejection, Sponsor
from services.sponsorship.attribution.inputs import sponsor_in_scope
from services.tenancy import TenantContext, require_role

logger = logging.getLogger(__name__)

RECENT_EVENTS = 20
REJECTION_DAYS = 7
REASON_LABELS = {
    "unknown_key": "unknown pixel key", "missing_id": "no event id (id=)", "bad_id": "event id not usable",
    "bad_type": "unknown event type (e=)", "bad_value": "value (v=) not a number >= 0",
    "bad_currency": "currency (c=) not a 3-letter code", "bad_time": "time out of range", "bad_ip": "address unusable",
    "invalid": "other problem",
}


@dataclass(frozen=True)
class PixelSetup:
    sponsor_id: int
    sponsor: str
    pixel_key: str
    pixel_url: str  # BASE/px.gif
    image_tag: str
    script: str


@dataclass(frozen=True)
class PixelEvent:
    at: datetime
    type: str
    source: str
    value: float | None
    currency: str | None
    usable: bool  # a household key that is not a shared (data-centre or mobile) address: it can match exposures


def pixel_url(public_base_url: str) -> str:
    return f"{public_base_url.rstrip('/')}/px.gif"


def pixel_snippet(public_base_url: str, pixel_key: str) -> tuple[str, str]:
    """(image tag, script): the tag for pages without JavaScript (the sponsor puts its own order or event id in
    `id`), and a few lines of plain JS that fire the pixel with a random event id, the page URL (u), the referrer
    (r) and the page's utm_* parameters."""
    url = pixel_url(public_base_url)
    image = (f'<noscript><img src="{url}?k={pixel_key}&e=pageview&id=YOUR_EVENT_ID" width="1" height="1" alt="">'
             "</noscript>")
    script = "\n".join([
        "<script>",
        "(function () {",
        f"  var q = new URLSearchParams({{k: {json.dumps(pixel_key)}, e: \"pageview\",",
        "    id: (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : Date.now() + \"-\" + Math.random(),",
        "    u: location.href, r: document.referrer});",
        "  new URLSearchParams(location.search).forEach(function (v, n) { if (n.indexOf(\"utm_\") === 0) q.set(n, v); });",
        f"  new Image().src = {json.dumps(url)} + \"?\" + q.toString();",
        "})();",
        "</script>",
    ])
    return image, script


def _sponsor(s: Session, ctx: TenantContext, sponsor_id: int) -> Sponsor:
    """The sponsor whose pixel this context may see: its own for a sponsor user, any of the tenant's for editors
    and above; NotFound for another tenant's or another sponsor's, PermissionDenied for viewers."""
    if not ctx.is_sponsor:
        require_role(ctx, "editor")
    return sponsor_in_scope(s, ctx, sponsor_id)


def pixel_setup(db: Database, ctx: TenantContext, sponsor_id: int, public_base_url: str) -> PixelSetup:
    with db.session(ctx.tenant_id) as s:
        sponsor = _sponsor(s, ctx, sponsor_id)
        name, key = sponsor.name, sponsor.pixel_key
    image, script = pixel_snippet(public_base_url, key)
    return PixelSetup(sponsor_id, name, key, pixel_url(public_base_url), image, script)


def pixel_sponsors(db: Database, ctx: TenantContext) -> list[tuple[int, str]]:
    """The sponsors whose pixel this context may see (active first), as (id, name); empty for viewers."""
    if not ctx.is_sponsor and not ctx.can("editor"):
        return []
    with db.session(ctx.tenant_id) as s:
        stmt = (select(Sponsor.id, Sponsor.name).where(Sponsor.tenant_id == ctx.tenant_id)
                .order_by(Sponsor.archived_at.is_not(None), Sponsor.name))
        if ctx.is_sponsor:
            stmt = stmt.where(Sponsor.id == ctx.sponsor_id)
        return [(sid, name) for sid, name in s.execute(stmt).all()]


def recent_events(db: Database, ctx: TenantContext, sponsor_id: int, limit: int = RECENT_EVENTS) -> list[PixelEvent]:
    """The sponsor's last `limit` events of every source, newest first (read through the tenant view)."""
    with db.session(ctx.tenant_id) as s:
        _sponsor(s, ctx, sponsor_id)
        e = view(AttributionEvent).c
        rows = s.execute(select(e.ts, e.type, e.source, e.value, e.currency, e.household_key, e.ip_shared)
                         .where(e.tenant_id == ctx.tenant_id, e.sponsor_id == sponsor_id)
                         .order_by(e.ts.desc(), e.event_id).limit(limit)).all()
    return [PixelEvent(at=_utc(ts), type=kind, source=source, value=None if value is None else float(value),
                       currency=currency, usable=household is not None and not shared)
            for ts, kind, source, value, currency, household, shared in rows]


def recent_rejections(db: Database, ctx: TenantContext, sponsor_id: int, today: date | None = None,
                      days: int = REJECTION_DAYS) -> dict[str, int]:
    """The sponsor's refused pixel calls by reason over the last `days` UTC days (today included), most first."""
    today = today or datetime.now(timezone.utc).date()
    with db.session(ctx.tenant_id) as s:
        _sponsor(s, ctx, sponsor_id)
        r = AttributionRejection
        rows = s.execute(select(r.reason, func.sum(r.count)).where(
            r.tenant_id == ctx.tenant_id, r.sponsor_id == sponsor_id, r.day > today - timedelta(days=days),
            r.day <= today).group_by(r.reason)).all()
    return dict(sorted(((reason, int(n)) for reason, n in rows), key=lambda item: (-item[1], item[0])))


def _utc(ts) -> datetime:
    if isinstance(ts, str):  # SQLite through a view returns text
        ts = datetime.fromisoformat(ts)
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)
