"""Webhooks (Standard Webhooks v1): the workflow's handler `on_event`, which fans an event out to the tenant's
endpoints; endpoints, deliveries, signing, retries and the SSRF guard live in this package's modules."""
from __future__ import annotations

import logging

from services.events.outbox import Event

logger = logging.getLogger(__name__)


def on_event(db, event: Event) -> None:
    """Create a delivery per enabled, matching endpoint of the event's tenant (once per endpoint and event) and make
    the first attempts now (a few here, any more as jobs on the notify queue, which retries on the schedule)."""
    # Sending and retrying are the notify queue's work; imported here because jobs build on services, not the other
    # way round.
    from jobs.webhooks import fan_out

    deliveries = fan_out(db, event)
    logger.info("webhook fan-out", extra={"event_id": event.id, "deliveries": deliveries})
