"""Webhook jobs on the `notify` queue: one job per delivery attempt. With Redis a failed attempt schedules its retry
with RQ's enqueue_in (workers run with the scheduler); without Redis the next attempt time is recorded and the
periodic sweep sends what is due. The sweep also catches, with Redis, a retry whose scheduled job was lost."""
from __future__ import annotations

import logging
from datetime import timedelta

from jobs.context import get_db, get_settings
from jobs.progress import annotate
from jobs.queues import FAILURE_TTL, RESULT_TTL, enqueue, get_queue
from services.models.base import utcnow
from services.notify.webhooks.deliveries import SendOptions, attempt_delivery, due_deliveries

logger = logging.getLogger(__name__)

QUEUE = "notify"
SWEEP_INTERVAL = 10  # seconds; in embedded mode the 5-second retry waits at most this long
SWEEP_GRACE_WITH_REDIS = timedelta(minutes=2)  # with Redis the scheduled job normally sends it first


def deliver_webhook(tenant_id: int, delivery_id: int) -> dict:
    """One attempt of one delivery (skipped when not due, or another worker holds it); schedules the retry."""
    annotate(tenant_id=tenant_id, delivery_id=delivery_id)
    settings = get_settings()
    result = attempt_delivery(get_db(), tenant_id, delivery_id, SendOptions.from_settings(settings))
    if result.retry_in is not None and settings.redis_url is not None:
        get_queue(QUEUE, settings).enqueue_in(timedelta(seconds=result.retry_in), deliver_webhook, tenant_id,
                                              delivery_id, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL)
    logger.info("webhook attempt", extra=result.as_dict())
    return result.as_dict()


def enqueue_deliveries(tenant_id: int, delivery_ids: list[int]) -> None:
    """Send these deliveries now, one job each (in this process in embedded mode)."""
    for delivery_id in delivery_ids:
        enqueue(deliver_webhook, tenant_id, delivery_id, queue=QUEUE)


def sweep_due_webhooks() -> int:
    """Periodic: queue an attempt for every due delivery of every tenant; returns how many."""
    settings = get_settings()
    grace = SWEEP_GRACE_WITH_REDIS if settings.redis_url is not None else timedelta(0)
    due = due_deliveries(get_db(), utcnow(), overdue=grace)
    for tenant_id, delivery_id in due:
        enqueue(deliver_webhook, tenant_id, delivery_id, queue=QUEUE, settings=settings)
    return len(due)
