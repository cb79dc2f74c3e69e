"""Jobs: rebuild a tenant's daily rollups, and fan that out to every tenant (the periodic job)."""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone


from jobs.context import get_db
from jobs.progress import report_progress
from jobs.queues import enqueue
from services import accounts
from services.measurement import store

logger = logging.getLogger(__name__)


def refresh_rollups(tenant_id: int, since_iso: str | None = None) -> int:
    """Recompute one tenant's daily rollups from `since_iso` (YYYY-MM-DD; all history when None); idempotent.

    Returns the row count the service reports (episode-days written)."""
    since = date.fromisoformat(since_iso) if since_iso else None
    report_progress(0.0, "refreshing rollups")
    with get_db().session(tenant_id, worker=True) as session:
        rows = store.refresh_tenant(session, tenant_id, since)
        session.commit()
    report_progress(1.0, "rollups refreshed")
    logger.info("rollups refreshed", extra={"tenant_id": tenant_id, "since": since_iso, "rows": rows})
    return rows


def refresh_all_rollups(days_back: int | None = 2) -> list[str]:
    """Enqueue `refresh_rollups` for every tenant on the `measure` queue; returns the job ids.

    Only the last `days_back` days are rebuilt (late hits land there); None rebuilds all history."""
    since_iso = None
    if days_back is not None:
        since_iso = (datetime.now(timezone.utc).date() - timedelta(days=days_back)).isoformat()
    tenant_ids = accounts.tenant_ids(get_db())
    job_ids = []
    for done, tenant_id in enumerate(tenant_ids):
        job_ids.append(enqueue(refresh_rollups, tenant_id, since_iso, queue="measure").id)
        report_progress((done + 1) / len(tenant_ids), f"queued {done + 1} of {len(tenant_ids)} tenants")
    logger.info("rollup refresh fanned out", extra={"tenants": len(tenant_ids), "since": since_iso})
    return job_ids
