"""Webhook jobs on the `notify` queue: one job per delivery attempt, except the first attempts of a fan-out, which
the event's handler makes itself (a job each would cost more than the request). With Redis a failed attempt
schedules its retry with RQ's enqueue_in (workers run with the scheduler); without Redis the next attempt time is
recorded and the periodic sweep sends what is due. The sweep also catches, with Redis, a retry whose scheduled job
was lost, and an attempt whose worker died while it was out."""
from __future__ import annotations

import logging
from datetime import timedelta

from jobs.context import get_db, get_settings
from jobs.progress import annotate
from jobs.queues import FAILURE_TTL, RESULT_TTL, enqueue, get_queue
from services.models.base import utcnow
from services.db import Database
from services.events.outbox import Event
from services.notify.webhooks.deliveries import (AttemptResult, SendOptions, attempt_delivery, due_deliveries,
                                                 send_claimed, start_deliveries)

logger = logging.getLogger(__name__)

QUEUE = "notify"
SWEEP_INTERVAL = 10  # seconds; in embedded mode the 5-second retry waits at most this long
SWEEP_GRACE_WITH_REDIS = timedelta(minutes=2)  # with Redis the scheduled job normally sends it first
INLINE_ATTEMPTS = 5  # first attempts a fan-out makes in its own job; an event's further deliveries get a job each


def deliver_webhook(tenant_id: int, delivery_id: int) -> dict:
    """One attempt of one delivery (skipped when not due, or another worker holds it); schedules the retry."""
    annotate(tenant_id=tenant_id, delivery_id=delivery_id)
    settings = get_settings()
    result = attempt_delivery(get_db(), tenant_id, delivery_id, SendOptions.from_settings(settings))
    return _after_attempt(settings, tenant_id, result)


def _after_attempt(settings, tenant_id: int, result: AttemptResult) -> dict:
    if result.retry_in is not None and settings.redis_url is not None:
        get_queue(QUEUE, settings).enqueue_in(timedelta(seconds=result.retry_in), deliver_webhook, tenant_id,
                                              result.delivery_id, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL)
    logger.info("webhook attempt", extra=result.as_dict())
    return result.as_dict()


def enqueue_deliveries(tenant_id: int, delivery_ids: list[int]) -> None:
    """Send these deliveries now, one job each (in this process in embedded mode)."""
    for delivery_id in delivery_ids:
        enqueue(deliver_webhook, tenant_id, delivery_id, queue=QUEUE)


def fan_out(db: Database, event: Event, inline: int = INLINE_ATTEMPTS) -> int:
    """The webhooks step of an event's handling: create its deliveries, make the first attempts of up to `inline`
    of them here (created already claimed, so no other worker sends them meanwhile), and queue a job for each other
    one waiting; returns how many deliveries were sent or queued."""
    settings = get_settings()
    options = SendOptions.from_settings(settings)
    claimed, waiting = start_deliveries(db, event, inline, options.timeout)
    for delivery in claimed:
        try:
            _after_attempt(settings, event.tenant_id, send_claimed(db, event.tenant_id, delivery, options))
        except Exception:  # e.g. the database went away: the delivery stays pending and the sweep sends it
            logger.exception("webhook attempt failed", extra={"event_id": event.id, "delivery_id": delivery.delivery_id})
    enqueue_deliveries(event.tenant_id, waiting)
    return len(claimed) + len(waiting)


def sweep_due_webhooks() -> int:
    """Periodic: queue an attempt for every due delivery of every tenant; returns how many."""
    settings = get_settings()
    grace = SWEEP_GRACE_WITH_REDIS if settings.redis_url is not None else timedelta(0)
    due = due_deliveries(get_db(), utcnow(), overdue=grace)
    for tenant_id, delivery_id in due:
        enqueue(deliver_webhook, tenant_id, delivery_id, queue=QUEUE, settings=settings)
    return len(due)
