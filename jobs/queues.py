"""Job queues: enqueue on RQ when Redis is configured, run in-process right away (embedded mode) when not."""
from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.results import Result
from rq.utils import import_attribute

from jobs import context
from jobs.progress import reporting_to
from services import tracing
from services.errors import ConfigError
from services.settings import Settings

logger = logging.getLogger(__name__)

QUEUES = ("ingest", "measure", "imports", "attribution", "notify", "default")
STATES = ("queued", "started", "finished", "failed", "deferred", "scheduled")
# Defaults for every job, set once here: long enough for a demo seed or a log import.
JOB_TIMEOUT = 30 * 60
RESULT_TTL = 24 * 60 * 60
FAILURE_TTL = 7 * 24 * 60 * 60
# For jobs whose redo is harmless (counting rewrites the days it counts; the refreshes after it replace their rows):
# a failure (PostgreSQL down) or an abandoned run (its worker SIGKILLed; requeued by a worker's maintenance) runs
# again after these waits, up to len(...) more times. RQ only: embedded mode runs a job once.
IDEMPOTENT_RETRY_INTERVALS = [15, 60, 300]
IDEMPOTENT_RETRY = Retry(max=len(IDEMPOTENT_RETRY_INTERVALS), interval=IDEMPOTENT_RETRY_INTERVALS)

_lock = threading.Lock()
# Embedded mode only: per-(queue, state) totals for the metrics endpoint, and recent handles for job_status.
_inline_counts: Counter[tuple[str, str]] = Counter()
_inline_handles: OrderedDict[str, JobHandle] = OrderedDict()
_INLINE_HANDLES_KEPT = 200


@dataclass
class JobHandle:
    """What a caller (page, API, CLI) knows about a job: poll `status`, show `meta["progress"]`."""

    id: str
    status: str
    queue: str = "default"
    meta: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    error: str | None = None

    @property
    def progress(self) -> float | None:
        return self.meta.get("progress")

    @property
    def done(self) -> bool:
        return self.status in ("finished", "failed", "stopped", "canceled")


@lru_cache(maxsize=8)
def _redis_for(url: str) -> Redis:
    # A Redis that stops answering is an error after these many seconds (the URL's own `socket_timeout` and
    # `socket_connect_timeout` win); RQ raises the read timeout itself above its blocking dequeue's.
    return Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)


def get_redis(settings: Settings | None = None) -> Redis:
    """The Redis connection for these settings (one per URL per process)."""
    settings = settings or context.get_settings()
    if settings.redis_url is None:
        raise ConfigError("REDIS_URL", "is not set; jobs run in-process (embedded mode)")
    return _redis_for(settings.redis_url)


def get_queue(name: str, settings: Settings | None = None) -> Queue:
    """The RQ queue called `name`, with the project's default job timeout."""
    _check_queue(name)
    return Queue(name, connection=get_redis(settings), default_timeout=JOB_TIMEOUT)


def enqueue(func: Callable[..., Any] | str, *args: Any, queue: str = "default", settings: Settings | None = None,
            retry: Retry | None = None, **kwargs: Any) -> JobHandle:
    """Run `func(*args, **kwargs)` as a job on `queue`: on RQ with Redis, in this process without.

    Arguments must be JSON-simple ids and values. In embedded mode the job has run when this returns (once: `retry`
    applies on RQ only); a failure is logged and reported in the handle (status "failed"), never raised."""
    _check_queue(queue)
    settings = settings or context.get_settings()
    if settings.redis_url is None:
        return _run_inline(func, args, kwargs, queue)
    job = get_queue(queue, settings).enqueue_call(
        func, args=args, kwargs=kwargs, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL, retry=retry,
        meta=tracing.job_meta() or None)
    logger.info("job enqueued", extra={"job_id": job.id, "queue": queue, "func": job.func_name})
    return JobHandle(id=job.id, status=_status(job, refresh=False), queue=queue, meta=dict(job.meta))


def job_status(job_id: str, settings: Settings | None = None) -> JobHandle | None:
    """The current state of a job by id, or None when it is unknown (or its result has expired)."""
    settings = settings or context.get_settings()
    if settings.redis_url is None:
        with _lock:
            return _inline_handles.get(job_id)
    try:
        job = Job.fetch(job_id, connection=get_redis(settings))
    except NoSuchJobError:
        return None
    handle = JobHandle(id=job.id, status=_status(job), queue=job.origin, meta=job.get_meta(refresh=False))
    latest = job.latest_result()
    if latest is not None and latest.type == Result.Type.SUCCESSFUL:
        handle.result = latest.return_value
    elif latest is not None:
        handle.error = latest.exc_string
    return handle


def job_counts(settings: Settings | None = None) -> dict[tuple[str, str], int]:
    """Number of jobs per (queue, state), for the Prometheus endpoint; in-process totals in embedded mode."""
    settings = settings or context.get_settings()
    counts = {(queue, state): 0 for queue in QUEUES for state in STATES}
    if settings.redis_url is None:
        with _lock:
            counts.update(_inline_counts)
        return counts
    for name in QUEUES:
        q = get_queue(name, settings)
        counts[(name, "queued")] = q.count
        registries = {"started": q.started_job_registry, "finished": q.finished_job_registry,
                      "failed": q.failed_job_registry, "deferred": q.deferred_job_registry,
                      "scheduled": q.scheduled_job_registry}
        for state, registry in registries.items():
            counts[(name, state)] = registry.get_job_count(cleanup=False)  # a scrape only reads
    return counts


def _check_queue(name: str) -> None:
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}; expected one of {', '.join(QUEUES)}")


def _status(job: Job, refresh: bool = True) -> str:
    status = job.get_status(refresh=refresh)
    return str(getattr(status, "value", status) or "queued")  # JobStatus is a str Enum; keep the plain value


def _run_inline(func: Callable[..., Any] | str, args: tuple, kwargs: dict, queue: str) -> JobHandle:
    handle = JobHandle(id=uuid.uuid4().hex, status="started", queue=queue)
    target = import_attribute(func) if isinstance(func, str) else func
    name = func if isinstance(func, str) else f"{target.__module__}.{target.__qualname__}"
    try:
        with reporting_to(handle), tracing.job_span(name, queue=queue):
            handle.result = target(*args, **kwargs)
        handle.status = "finished"
    except Exception as exc:  # embedded mode: a failed job must not fail the request that started it
        logger.exception("in-process job failed", extra={"job_id": handle.id, "queue": queue, "func": name})
        handle.status, handle.error = "failed", f"{type(exc).__name__}: {exc}"
    with _lock:
        _inline_counts[(queue, handle.status)] += 1
        _inline_handles[handle.id] = handle
        while len(_inline_handles) > _INLINE_HANDLES_KEPT:
            _inline_handles.popitem(last=False)
    return handle
