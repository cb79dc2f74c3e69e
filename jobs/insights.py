"""Insights jobs: after a tenant's count, detect anomalies on the recounted days and rewrite this week's summaries."""
from __future__ import annotations

import logging
from datetime import date

from jobs.context import get_db, get_settings
from jobs.progress import report_progress
from services.insights import anomaly_store, llm, summaries

logger = logging.getLogger(__name__)


def refresh_tenant_insights(tenant_id: int, first_iso: str | None = None) -> dict:
    """Detect and store the tenant's anomalies from `first_iso` (the first recounted day; at least the last week),
    then recompute its cached summaries. Idempotent: a second run stores no new anomaly.
    Returns the new anomalies (each one `anomaly.detected`) and how many summaries were written."""
    first = date.fromisoformat(first_iso) if first_iso else None
    db = get_db()
    new = anomaly_store.detect_and_store(db, tenant_id, first)
    report_progress(0.5, f"{len(new)} new anomalies")
    written = summaries.refresh_tenant_summaries(db, tenant_id, since=first,
                                                 writer=llm.provider_from_settings(get_settings()))
    report_progress(1.0, f"{written} summaries written")
    return {"tenant_id": tenant_id, "new_anomalies": [{**f.as_dict(), "day": f.day.isoformat()} for f in new],
            "summaries": written}
