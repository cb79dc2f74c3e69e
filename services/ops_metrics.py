"""The operations gauges' readings (services.observability.OPS_GAUGES) for /metrics: the ingest buffer's length,
counting lag, and webhook and email deliveries by status. Read at scrape time, across tenants (an operator's view:
counts only, no tenant's data)."""
from __future__ import annotations

from datetime import datetime, timezone

from services import lookups
from services.db import Database
from services.measurement.ingest import BUFFER_KEY, PROCESSING_KEY


def read_ops(db: Database, redis_client=None, now: datetime | None = None) -> dict[str, dict[tuple[str, ...], float]]:
    now = now or datetime.now(timezone.utc)
    reading = lookups.ops_reading(db)
    # How long the oldest hit no count has seen has waited; 0 when every tenant is counted up to its newest hit.
    oldest = reading.pop("oldest_uncounted_request", {}).get(())
    reading["counting_lag_seconds"] = {(): 0.0 if oldest is None else max(0.0, now.timestamp() - oldest)}
    reading.setdefault("webhook_deliveries", {})
    reading.setdefault("emails", {})
    if redis_client is not None:  # embedded mode has no buffer: hits are stored as they come
        with redis_client.pipeline(transaction=False) as pipe:
            buffered, processing = pipe.llen(BUFFER_KEY).llen(PROCESSING_KEY).execute()
        reading["ingest_buffer_hits"] = {(): buffered + processing}
    return reading
