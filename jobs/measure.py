"""Measurement jobs: drain the hit buffer into raw requests, count downloads per tenant, fan counting out."""
from __future__ import annotations

import logging
from datetime import date

from jobs.campaigns import refresh_tenant_delivery
from jobs.insights import refresh_tenant_insights
from jobs.context import get_db, get_settings
from jobs.forecasts import refresh_forecasts
from jobs.progress import report_progress
from jobs.queues import IDEMPOTENT_RETRY, JobHandle, enqueue, get_redis
from services import accounts
from services.measurement import counting, engines, ingest, retention
from services.sponsorship.attribution import households
from jobs.attribution import RECORD_STORES

logger = logging.getLogger(__name__)


def drain_hits(batch: int = 5000) -> int:
    """Move buffered prefix hits from Redis into raw requests (idempotent by hit id), and the pixel / link records
    that share the buffer into attribution events; returns records stored.
    Embedded mode has no buffer (hits are written in-process), so there is nothing to drain."""
    if get_settings().redis_url is None:
        return 0
    stored = ingest.drain_buffer(get_db(), get_redis(get_settings()), batch=batch, stores=RECORD_STORES)
    report_progress(1.0, f"{stored} hits stored")
    return stored


def count_tenant(tenant_id: int, first_iso: str | None = None, last_iso: str | None = None) -> dict:
    """Count one tenant's raw requests into downloads and rollups (default: since the last count)."""
    with engines.open_engine(get_settings().counting_engine) as engine:
        report = counting.count_downloads(get_db(), tenant_id, date.fromisoformat(first_iso) if first_iso else None,
                                          date.fromisoformat(last_iso) if last_iso else None,
                                          progress=report_progress, engine=engine)
    if report.first_day is not None:  # the recounted days may fall in campaign flights (each refresh is idempotent)
        first = report.first_day.isoformat()
        enqueue(refresh_tenant_delivery, tenant_id, first, queue="measure", retry=IDEMPOTENT_RETRY)
        enqueue(refresh_forecasts, tenant_id, queue="default", retry=IDEMPOTENT_RETRY)  # new days change every forecast
        enqueue(refresh_tenant_insights, tenant_id, first, queue="measure", retry=IDEMPOTENT_RETRY)
    report_progress(1.0, f"{report.downloads} downloads counted")
    return report.as_dict()


def count_all() -> list[str]:
    """The periodic job: enqueue count_tenant for every tenant (one without new requests returns at once: the
    check is an index lookup, where listing tenants from the raw table would scan it); returns the job ids."""
    return [enqueue_count(tenant_id).id for tenant_id in accounts.tenant_ids(get_db())]


def enqueue_count(tenant_id: int, first_iso: str | None = None, last_iso: str | None = None) -> JobHandle:
    """count_tenant on the measure queue, redone on failure or when its worker dies (counting is idempotent: it
    rewrites the days it counts)."""
    return enqueue(count_tenant, tenant_id, first_iso, last_iso, queue="measure", retry=IDEMPOTENT_RETRY)


def purge_expired() -> dict:
    """The daily retention job: raw requests and conversions past each tenant's retention (rows removed reported
    per tenant) and secrets no longer needed (the monthly listener secrets, and the household secrets of expired
    90-day epochs)."""
    report = retention.purge_expired(get_db(), conversion_default_days=get_settings().conversion_retention_days)
    with get_db().session(system=True) as s:
        report["household_secrets"] = households.purge_expired_secrets(s)
        s.commit()
    return report
