"""Progress reporting from inside a job: into RQ's `job.meta`, or into the in-process handle in embedded mode."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from rq import get_current_job

if TYPE_CHECKING:
    from jobs.queues import JobHandle

logger = logging.getLogger(__name__)

_inline_handle: ContextVar[JobHandle | None] = ContextVar("inline_job_handle", default=None)


@contextmanager
def reporting_to(handle: JobHandle) -> Iterator[JobHandle]:
    """While an in-process job runs, route `report_progress` calls to its handle."""
    token = _inline_handle.set(handle)
    try:
        yield handle
    finally:
        _inline_handle.reset(token)


def report_progress(fraction: float, message: str = "") -> None:
    """Record how far the current job is (0.0-1.0) and what it is doing; a no-op outside any job."""
    annotate(progress=min(max(float(fraction), 0.0), 1.0), message=message)


def annotate(**update) -> None:
    """Add JSON-simple facts to the current job's meta (e.g. the tenant it works for); a no-op outside a job."""
    handle = _inline_handle.get()
    if handle is not None:
        handle.meta.update(update)
        return
    job = get_current_job()
    if job is None:
        return
    job.meta.update(update)
    try:
        job.save_meta()
    except RedisError:  # a progress bar is not worth failing the job over
        logger.warning("could not save job progress", exc_info=True, extra={"job_id": job.id})
