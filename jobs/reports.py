"""Scheduled report jobs on the `notify` queue: the periodic tick records the due runs and queues one send each; a
send is retried with backoff on a transient SMTP failure (the run's status keeps a retry from sending twice)."""
from __future__ import annotations

import logging
from datetime import datetime

from rq import Retry, get_current_job

from jobs.context import get_db, get_settings
from jobs.progress import annotate
from jobs.queues import JobHandle, enqueue
from services.notify.reports import sending

logger = logging.getLogger(__name__)

TICK_INTERVAL = 5 * 60  # seconds between looks for due subscriptions: a report arrives within this of its hour
REPORT_RETRY_INTERVALS = [60, 300, 1800]


class ReportNotSentYet(Exception):
    """A transient SMTP failure with attempts left: RQ runs the job again after the next interval."""


def send_report(run_id: int) -> str:
    annotate(run_id=run_id)
    job = get_current_job()
    final = job is None or not job.retries_left
    outcome = sending.send_run(get_db(), get_settings(), run_id, final_attempt=final)
    if outcome.status == "retrying":
        raise ReportNotSentYet(f"report run {run_id} not sent yet; retrying")
    return outcome.status


def enqueue_report(run_id: int) -> JobHandle:
    return enqueue(send_report, run_id, queue="notify",
                   retry=Retry(max=len(REPORT_RETRY_INTERVALS), interval=REPORT_RETRY_INTERVALS))


def queue_due_reports(now: str | None = None) -> int:
    """The periodic tick: record due runs and queue their sends; returns how many were queued. `now` (ISO) is for
    operators replaying a missed moment."""
    moment = datetime.fromisoformat(now) if now else None
    run_ids = sending.record_due_runs(get_db(), moment)
    for run_id in run_ids:
        enqueue_report(run_id)
    if run_ids:
        logger.info("report runs queued", extra={"runs": len(run_ids)})
    return len(run_ids)
