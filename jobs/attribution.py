"""Attribution jobs: recompute one campaign's (or several campaigns') matched conversions and credits, after counting
and after conversions arrive. Idempotent: each run replaces the campaign's touchpoints in one transaction."""
from __future__ import annotations

import logging
import threading
import time

from jobs.context import get_db, get_settings
from jobs.progress import annotate, report_progress
from jobs.queues import JobHandle, enqueue, get_redis
from services.sponsorship.attribution import results

logger = logging.getLogger(__name__)

THROTTLE_SECONDS = 60  # conversions arriving re-attribute a sponsor's campaigns at most once a minute
_recent: dict[tuple[int, int], float] = {}  # embedded mode's throttle (no Redis)
_recent_lock = threading.Lock()


def attribute_campaign(tenant_id: int, campaign_id: int, channel: str = "placement") -> dict:
    """Recompute one campaign's attribution; progress goes to job.meta."""
    annotate(tenant_id=tenant_id, campaign_id=campaign_id)
    outcome = results.attribute_campaign(get_db(), tenant_id, campaign_id, channel, progress=report_progress)
    return outcome.as_dict()


def attribute_campaigns(tenant_id: int, campaign_ids: list[int] | None = None, sponsor_id: int | None = None) -> list:
    """Several campaigns one after the other (all of the tenant's with placements, or one sponsor's, when no ids)."""
    annotate(tenant_id=tenant_id)
    db = get_db()
    ids = campaign_ids if campaign_ids is not None else results.campaigns_to_attribute(db, tenant_id, sponsor_id)
    done = []
    for n, campaign_id in enumerate(ids, start=1):
        done.append(results.attribute_campaign(db, tenant_id, campaign_id).as_dict())
        report_progress(n / len(ids), f"attributed {n} of {len(ids)} campaigns")
    return done


def enqueue_campaign(tenant_id: int, campaign_id: int) -> JobHandle:
    """The Recompute button and the API: one campaign on the attribution queue (in-process in embedded mode)."""
    return enqueue(attribute_campaign, tenant_id, campaign_id, queue="attribution")


def after_counting(tenant_id: int, campaign_ids: list[int]) -> JobHandle | None:
    """Chained after a delivery refresh: the campaigns whose delivery just changed."""
    if not campaign_ids:
        return None
    return enqueue(attribute_campaigns, tenant_id, list(campaign_ids), queue="attribution")


def conversions_arrived(tenant_id: int, sponsor_id: int) -> JobHandle | None:
    """New conversions of a sponsor: re-attribute its campaigns, at most once per THROTTLE_SECONDS per sponsor (a
    Redis key with that expiry; a dict in embedded mode). Conversions inside a throttled minute wait for the next
    trigger: another conversion after the minute, or the next count of downloads."""
    if not _first_in_window(tenant_id, sponsor_id):
        return None
    return enqueue(attribute_campaigns, tenant_id, None, sponsor_id, queue="attribution")


def _first_in_window(tenant_id: int, sponsor_id: int) -> bool:
    settings = get_settings()
    if settings.redis_url is not None:
        key = f"attribution:throttle:{tenant_id}:{sponsor_id}"
        return bool(get_redis(settings).set(key, "1", nx=True, ex=THROTTLE_SECONDS))
    now = time.monotonic()
    with _recent_lock:
        last = _recent.get((tenant_id, sponsor_id))
        if last is not None and now - last < THROTTLE_SECONDS:
            return False
        _recent[(tenant_id, sponsor_id)] = now
        return True
