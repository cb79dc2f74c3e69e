"""The under-pacing notice: after a delivery refresh, a live campaign in its flight that has delivered less than
`behind` of the delivery expected to date records `delivery.under_pacing` (with pacing's makegood suggestions), at
most once per campaign per UTC day (the pacing_notices key, written in the event's transaction)."""
from __future__ import annotations

import logging
from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.db import Database
from services.events import outbox
from services.models import Campaign, PacingNotice
from services.sponsorship import pacing
from services.tenancy import TenantContext

logger = logging.getLogger(__name__)

EVENT_TYPE = "delivery.under_pacing"
DEFAULT_BEHIND = 0.9  # delivered under 90% of the expected delivery to date


def is_behind(p: pacing.Pacing, behind: float) -> bool:
    return p.pace is not None and p.pace < behind


def makegood_text(p: pacing.Pacing) -> str:
    """The suggestion the team reads: which upcoming episodes would cover the forecast shortfall."""
    if not p.makegoods:
        return ("No makegood suggested: the forecast still reaches the goal." if not p.shortfall else
                "No upcoming episode found to make good the shortfall.")
    items = "; ".join(f"{m.podcast} on {m.release.isoformat()} (~{m.expected_impressions:,} impressions)"
                      for m in p.makegoods)
    return f"To make good {p.shortfall:,} impressions: {items}."


def under_pacing_payload(campaign_id: int, name: str, p: pacing.Pacing) -> dict:
    """The contract's fields (campaign_id, name, delivered, expected, shortfall, makegoods as text), with a title, a
    body and a link the notices can show as they are."""
    expected = round(p.expected)
    makegoods = makegood_text(p)
    body = (f"Delivered {p.delivered:,} of the {expected:,} impressions expected by {p.as_of.isoformat()} "
            f"({round((p.pace or 0) * 100)}%). {makegoods}")
    return {"campaign_id": campaign_id, "name": name, "delivered": p.delivered, "expected": expected,
            "shortfall": max(expected - p.delivered, 0), "forecast_shortfall": p.shortfall,
            "pace": None if p.pace is None else round(p.pace, 3), "as_of": p.as_of.isoformat(),
            "makegoods": makegoods, "title": f"{name} is behind pacing", "body": body,
            "link": f"/campaigns/{campaign_id}"}


def record_under_pacing(db: Database, tenant_id: int, campaign_ids: list[int], today: date | None = None,
                        behind: float = DEFAULT_BEHIND) -> list[int]:
    """Check the refreshed campaigns; returns the ids of those whose notice was recorded now."""
    today = today or datetime.now(timezone.utc).date()
    ctx = TenantContext(tenant_id=tenant_id, role="owner")  # the tenant's own check, on its behalf
    recorded = []
    for campaign_id, name in _live_in_flight(db, tenant_id, campaign_ids, today):
        if _noticed(db, tenant_id, campaign_id, today):
            continue
        p = pacing.pacing(db, ctx, campaign_id, today)
        if is_behind(p, behind) and _record(db, tenant_id, campaign_id, today, under_pacing_payload(campaign_id,
                                                                                                    name, p)):
            recorded.append(campaign_id)
    return recorded


def _live_in_flight(db: Database, tenant_id: int, campaign_ids: list[int], today: date) -> list[tuple[int, str]]:
    if not campaign_ids:
        return []
    with db.session(tenant_id, worker=True) as s:
        return [(int(i), n) for i, n in s.execute(select(Campaign.id, Campaign.name).where(
            Campaign.tenant_id == tenant_id, Campaign.id.in_(campaign_ids), Campaign.status == "live",
            Campaign.start_date <= today, Campaign.end_date >= today).order_by(Campaign.id)).all()]


def _noticed(db: Database, tenant_id: int, campaign_id: int, today: date) -> bool:
    with db.session(tenant_id, worker=True) as s:
        return s.scalar(select(PacingNotice.event_id).where(PacingNotice.tenant_id == tenant_id,
                                                            PacingNotice.campaign_id == campaign_id,
                                                            PacingNotice.day == today)) is not None


def _record(db: Database, tenant_id: int, campaign_id: int, today: date, payload: dict) -> bool:
    """The event and its day's notice in one transaction; a concurrent refresh that recorded it first wins."""
    with db.session(tenant_id, worker=True) as s:
        event = outbox.record(s, tenant_id, EVENT_TYPE, payload)
        s.add(PacingNotice(campaign_id=campaign_id, day=today, tenant_id=tenant_id, event_id=event.id))
        try:
            s.commit()
        except IntegrityError:
            s.rollback()
            return False
    logger.info("campaign under pacing", extra={"tenant_id": tenant_id, "campaign_id": campaign_id})
    return True
