"""Event jobs on the `notify` queue: the dispatcher (after a commit that recorded events, and as a periodic sweep),
which claims a batch of due events and handles them in the same job, the handling of one event, and the after-commit
trigger that enqueues the dispatcher. Without Redis they run in-process."""
from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from jobs.context import get_db, get_settings
from jobs.progress import annotate
from jobs.notify import enqueue_email
from jobs.queues import enqueue, get_redis
from services.events import dispatch, outbox

logger = logging.getLogger(__name__)

QUEUE = "notify"


DISPATCH_QUEUED_KEY = "events:dispatch-queued"  # set while a dispatch job waits in the queue (Redis only)
DISPATCH_QUEUED_TTL = 30  # seconds: a lost dispatch job holds the flag no longer than this (the sweep runs anyway)
# Events one dispatch job claims and handles itself (with Redis). A job per event cost more in RQ's own bookkeeping
# than the handling; a small batch keeps the last event's wait short, and a full one queues the next dispatch first,
# so every worker takes a batch while a backlog lasts.
DISPATCH_BATCH = 20
# Events of a batch handled at once: handling waits on the database and the webhook receivers far more than it
# computes, so a few threads overlap those waits (each holds at most two pooled connections of the pool's ten).
DISPATCH_THREADS = 4


def dispatch_events() -> int:
    """Claim the due events (new ones, and those whose lease or backoff ran out) and handle them in this job;
    returns how many were handled. The queued flag is cleared first, so an event committed while this runs queues
    the next dispatch. In-process (no Redis) one call works through up to the claim limit."""
    settings = get_settings()
    if settings.redis_url is None:
        return dispatch.handle_due(get_db(), budget=float("inf"))
    get_redis(settings).delete(DISPATCH_QUEUED_KEY)
    return dispatch.handle_due(get_db(), limit=DISPATCH_BATCH, more=_queue_dispatch, threads=DISPATCH_THREADS)


def _queue_dispatch() -> None:
    """One waiting dispatch job at most: a burst of commits shares it (it claims a batch; a commit after it starts,
    or a full batch, queues another)."""
    settings = get_settings()
    if settings.redis_url is not None and not get_redis(settings).set(DISPATCH_QUEUED_KEY, "1", nx=True,
                                                                        ex=DISPATCH_QUEUED_TTL):
        return
    enqueue(dispatch_events, queue=QUEUE)


def handle_event(event_id: int) -> str | None:
    """Run one event's handlers that have not succeeded yet (idempotent: the ledger skips the done ones)."""
    annotate(event_id=event_id)
    return dispatch.handle_event(get_db(), event_id)


def after_commit(items: list[tuple[str, int]]) -> None:
    """The outbox's trigger: a commit recorded events -> dispatch them; queued emails -> send each."""
    if any(topic == "event" for topic, _ in items):
        _queue_dispatch()
    for topic, row_id in items:
        if topic == "email":
            enqueue_email(row_id)


def watch(engine: Engine, on: bool = True) -> None:
    """Install (or remove) the trigger for sessions on this engine: the jobs' database, in the app and the worker."""
    outbox.set_trigger(engine, after_commit if on else None)
