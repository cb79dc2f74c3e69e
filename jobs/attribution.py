"""Attribution jobs: recompute one campaign's (or several campaigns') matched conversions and credits, after counting
and after conversions arrive. Idempotent: each run replaces the campaign's touchpoints in one transaction."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from jobs.context import get_db, get_settings
from jobs.progress import annotate, report_progress
from jobs.queues import FAILURE_TTL, RESULT_TTL, JobHandle, enqueue, get_queue, get_redis
from services.db import Database
from services.sponsorship.attribution import pixel, results

logger = logging.getLogger(__name__)

THROTTLE_SECONDS = 60  # conversions arriving re-attribute a sponsor's campaigns at most once a minute
_recent: dict[tuple[int, int], float] = {}  # embedded mode's throttle (no Redis)
_scheduled: set[tuple[int, int]] = set()  # embedded mode: sponsors with a run waiting for their window's end
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
    """New conversions of a sponsor: re-attribute its campaigns, at most once per THROTTLE_SECONDS per sponsor.

    The first arrival in a window runs at once; later ones in the same window leave one run scheduled for the
    window's end (never more than one), so the last conversions of a burst are attributed within the minute and
    not left for the next trigger. Redis holds the window and the scheduled run (RQ's scheduler, which the workers
    run, starts it); embedded mode keeps both in this process (a timer thread)."""
    wait = _wait(tenant_id, sponsor_id)
    if wait is None:
        return None  # a run is already scheduled for the end of this window
    if wait == 0:
        return enqueue(attribute_campaigns, tenant_id, None, sponsor_id, queue="attribution")
    return _schedule(tenant_id, sponsor_id, wait)


def _wait(tenant_id: int, sponsor_id: int) -> float | None:
    """0: run now (a new window opens); seconds: schedule a run that far ahead (the first arrival since the window's
    run); None: a run is already scheduled."""
    settings = get_settings()
    if settings.redis_url is not None:
        redis, key = get_redis(settings), f"attribution:throttle:{tenant_id}:{sponsor_id}"
        if redis.set(key, "1", nx=True, ex=THROTTLE_SECONDS):
            return 0
        remaining = max(redis.pttl(key), 0) / 1000
        return remaining + 1 if redis.set(key + ":scheduled", "1", nx=True, ex=int(remaining) + 2) else None
    now = time.monotonic()
    with _recent_lock:
        last = _recent.get((tenant_id, sponsor_id))
        if last is None or now - last >= THROTTLE_SECONDS:
            _recent[(tenant_id, sponsor_id)] = now
            return 0
        if (tenant_id, sponsor_id) in _scheduled:
            return None
        _scheduled.add((tenant_id, sponsor_id))
        return THROTTLE_SECONDS - (now - last)


def _schedule(tenant_id: int, sponsor_id: int, wait: float) -> JobHandle | None:
    settings = get_settings()
    if settings.redis_url is not None:
        job = get_queue("attribution", settings).enqueue_in(
            timedelta(seconds=wait), attribute_campaigns, tenant_id, None, sponsor_id,
            result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL)
        return JobHandle(id=job.id, status="scheduled", queue="attribution", meta={})

    def run_later() -> None:
        with _recent_lock:
            _scheduled.discard((tenant_id, sponsor_id))
            _recent[(tenant_id, sponsor_id)] = time.monotonic()
        enqueue(attribute_campaigns, tenant_id, None, sponsor_id, queue="attribution", settings=settings)

    _start_timer(wait, run_later)
    return None


def _start_timer(wait: float, run: Callable[[], None]) -> None:
    timer = threading.Timer(wait, run)
    timer.daemon = True
    timer.start()


def store_pixel_records(db: Database, records: list[dict]) -> int:
    """The store for buffered pixel and link records (the drain job and the embedded writer): store them, then
    re-attribute each sponsor that got new events. A failure to enqueue is logged, not raised: the events are
    stored, and the next count of downloads re-attributes the campaigns anyway."""
    arrived: set[tuple[int, int]] = set()
    stored = pixel.store_records(db, records, arrived=arrived)
    for tenant_id, sponsor_id in sorted(arrived):
        try:
            conversions_arrived(tenant_id, sponsor_id)
        except Exception:  # noqa: BLE001 - see the docstring
            logger.exception("re-attribution after new events could not be enqueued",
                             extra={"tenant_id": tenant_id, "sponsor_id": sponsor_id})
    return stored


RECORD_STORES = {pixel.RECORD_KIND: store_pixel_records}  # for the drain job and the embedded writer
