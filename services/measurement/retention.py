"""Retention: raw requests are kept RAW_RETENTION_DAYS, or fewer days where a tenant chose fewer; conversions are
kept as long as the tenant (or the deployment's CONVERSION_RETENTION_DAYS) says, else indefinitely. Hash secrets no
raw request needs any more are deleted, so old listener keys can never be linked back to an address."""
from __future__ import annotations

import logging
from datetime import datetime, time, timedelta, timezone

from sqlalchemy import delete, select

from services.db import Database
from services.measurement.hashing import month_of
from services.measurement.methodology import RAW_RETENTION_DAYS
from services.models import AttributionEvent, CountingState, DownloadRequest, HashSecret, Tenant
from services.models.attribution import AttributionTouchpoint

logger = logging.getLogger(__name__)


def day_cutoff(now: datetime, days: int) -> datetime:
    """The start of the oldest UTC day kept: whole days only, so the oldest day kept is complete and can still be
    recounted."""
    return datetime.combine((now - timedelta(days=days)).date(), time.min, tzinfo=timezone.utc)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def purge_expired(db: Database, now: datetime | None = None, conversion_default_days: int | None = None) -> dict:
    """Apply each tenant's retention: raw requests before its cutoff, but never one not yet counted (only days
    before the day the next count starts from, counted_until - 1 day, go); conversions (attribution events and
    touchpoints) before its conversion cutoff when it has one. Then the monthly secrets older than the oldest month
    any tenant keeps. Returns the totals and, per tenant id, the rows removed."""
    now = now or datetime.now(timezone.utc)
    default_cutoff = day_cutoff(now, RAW_RETENTION_DAYS)
    per_tenant: dict[int, dict[str, int]] = {}
    with db.session(system=True) as s:  # cross-tenant system work, one transaction
        tenants = s.execute(select(Tenant.id, Tenant.raw_request_retention_days, Tenant.conversion_retention_days,
                                   CountingState.counted_until)
                            .outerjoin(CountingState, CountingState.tenant_id == Tenant.id).order_by(Tenant.id)).all()
        for tenant_id, raw_days, conversion_days, counted_until in tenants:
            removed = {"raw_requests": 0, "conversions": 0, "touchpoints": 0}
            if counted_until is not None:
                counted_day = datetime.combine(_aware(counted_until).date() - timedelta(days=1), time.min,
                                               tzinfo=timezone.utc)
                cutoff = min(day_cutoff(now, raw_days or RAW_RETENTION_DAYS), counted_day)
                removed["raw_requests"] = s.execute(delete(DownloadRequest).where(
                    DownloadRequest.tenant_id == tenant_id, DownloadRequest.ts < cutoff)).rowcount or 0
            keep = conversion_days or conversion_default_days
            if keep:
                cutoff = day_cutoff(now, keep)
                removed["conversions"] = s.execute(delete(AttributionEvent).where(
                    AttributionEvent.tenant_id == tenant_id, AttributionEvent.ts < cutoff)).rowcount or 0
                removed["touchpoints"] = s.execute(delete(AttributionTouchpoint).where(
                    AttributionTouchpoint.tenant_id == tenant_id,
                    AttributionTouchpoint.conversion_ts < cutoff)).rowcount or 0
            per_tenant[tenant_id] = removed
        # Rows of tenants that no longer exist go at the deployment's cutoff.
        orphans = s.execute(delete(DownloadRequest).where(
            DownloadRequest.ts < default_cutoff,
            DownloadRequest.tenant_id.not_in(select(Tenant.id)))).rowcount or 0
        secrets = s.execute(delete(HashSecret).where(HashSecret.month < month_of(default_cutoff))).rowcount
        s.commit()
    requests = orphans + sum(r["raw_requests"] for r in per_tenant.values())
    conversions = sum(r["conversions"] for r in per_tenant.values())
    logger.info("retention applied", extra={"raw_requests": requests, "conversions": conversions,
                                            "hash_secrets": secrets})
    return {"raw_requests": requests, "conversions": conversions, "hash_secrets": secrets,
            "cutoff": default_cutoff.isoformat(), "tenants": per_tenant}
