"""The operations gauges' readings (services.observability.OPS_GAUGES) for /metrics: the ingest buffer's length,
counting lag, and webhook and email deliveries by status. Read at scrape time, across tenants (an operator's view:
counts only, no tenant's data)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select

from services.db import Database
from services.measurement.ingest import BUFFER_KEY, PROCESSING_KEY
from services.models.measurement import CountingState
from services.models.notify import EmailMessage
from services.models.webhooks import WebhookDelivery


def read_ops(db: Database, redis_client=None, now: datetime | None = None) -> dict[str, dict[tuple[str, ...], float]]:
    now = now or datetime.now(timezone.utc)
    reading: dict[str, dict[tuple[str, ...], float]] = {}
    with db.session(system=True) as s:
        oldest = s.scalar(select(func.min(CountingState.counted_until)))
        if oldest is not None:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=timezone.utc)
            reading["counting_lag_seconds"] = {(): max(0.0, (now - oldest).total_seconds())}
        reading["webhook_deliveries"] = {
            (status,): n for status, n in s.execute(
                select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status))}
        reading["emails"] = {
            (status,): n for status, n in s.execute(select(EmailMessage.status, func.count()).group_by(EmailMessage.status))}
    if redis_client is not None:  # embedded mode has no buffer: hits are stored as they come
        with redis_client.pipeline(transaction=False) as pipe:
            buffered, processing = pipe.llen(BUFFER_KEY).llen(PROCESSING_KEY).execute()
        reading["ingest_buffer_hits"] = {(): buffered + processing}
    return reading
