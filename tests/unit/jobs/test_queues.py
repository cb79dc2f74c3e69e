"""Tests for jobs.queues and jobs.progress in embedded mode (no Redis): jobs run inline and report progress."""
from __future__ import annotations

import logging

import pytest

from jobs import queues
from jobs.progress import report_progress
from jobs.queues import QUEUES, STATES, enqueue, job_counts, job_status
from services.errors import ConfigError

logger = logging.getLogger(__name__)


def count_episodes(show: str, *, per_step: int = 2) -> dict:
    report_progress(0.5, f"counting {show}")
    report_progress(1.0, "done")
    return {"show": show, "episodes": per_step * 2}


def broken_import(feed_id: int) -> None:
    report_progress(0.25, "fetching feed")
    raise RuntimeError(f"feed {feed_id} returned 404")


def outer_job() -> str:
    report_progress(0.1, "outer started")
    inner = enqueue(count_episodes, "inner", queue="measure")
    report_progress(0.9, "outer nearly done")
    return inner.id


def test_embedded_enqueue_runs_inline_and_captures_progress(settings):
    handle = enqueue(count_episodes, "Signal & Noise", per_step=3, queue="measure", settings=settings)

    assert handle.status == "finished" and handle.done
    assert handle.queue == "measure"
    assert handle.result == {"show": "Signal & Noise", "episodes": 6}
    assert handle.meta == {"progress": 1.0, "message": "done"}
    assert handle.progress == 1.0 and handle.error is None


def test_embedded_enqueue_accepts_a_dotted_path():
    handle = enqueue(f"{__name__}.count_episodes", "Market Hours")

    assert handle.status == "finished"
    assert handle.result["show"] == "Market Hours"


def test_failure_is_reported_in_the_handle_not_raised(caplog):
    with caplog.at_level(logging.ERROR, logger="jobs.queues"):
        handle = enqueue(broken_import, 7, queue="imports")

    assert handle.status == "failed" and handle.done
    assert handle.error == "RuntimeError: feed 7 returned 404"
    assert handle.result is None
    assert handle.meta["progress"] == 0.25  # how far it got
    assert any(record.exc_info for record in caplog.records)


@pytest.mark.parametrize("name", ["", "Default", "emails", "rq:queue:default"])
def test_unknown_queue_is_rejected(name):
    with pytest.raises(ValueError, match="unknown queue"):
        enqueue(count_episodes, "x", queue=name)


def test_nested_jobs_keep_their_own_progress():
    outer = enqueue(outer_job)

    inner = job_status(outer.result)
    assert inner is not None and inner.queue == "measure"
    assert inner.meta == {"progress": 1.0, "message": "done"}
    assert outer.meta == {"progress": 0.9, "message": "outer nearly done"}


def test_report_progress_outside_a_job_is_a_no_op():
    report_progress(0.5, "nobody is listening")

    handle = enqueue(count_episodes, "after")
    assert handle.meta == {"progress": 1.0, "message": "done"}  # nothing leaked in from outside


def test_report_progress_clamps_to_the_unit_interval():
    handle = enqueue(report_progress, 1.7, "overshoot")

    assert handle.meta == {"progress": 1.0, "message": "overshoot"}


def test_job_status_finds_recent_inline_jobs_only():
    handle = enqueue(count_episodes, "kept")

    assert job_status(handle.id) is handle
    assert job_status("no-such-job") is None


def test_job_counts_cover_every_queue_and_state_and_count_inline_runs():
    before = job_counts()
    enqueue(count_episodes, "ok", queue="notify")
    enqueue(broken_import, 1, queue="notify")
    after = job_counts()

    assert set(after) == {(queue, state) for queue in QUEUES for state in STATES}
    assert after[("notify", "finished")] == before[("notify", "finished")] + 1
    assert after[("notify", "failed")] == before[("notify", "failed")] + 1
    assert after[("notify", "queued")] == 0


def test_redis_is_refused_in_embedded_mode(settings):
    with pytest.raises(ConfigError, match="REDIS_URL"):
        queues.get_redis(settings)
