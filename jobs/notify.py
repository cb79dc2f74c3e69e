"""Notification jobs on the `notify` queue: send one logged email, retried with backoff on RQ (a transient failure
raises so RQ retries; the last attempt records the failure). Without Redis it runs once, in-process."""
from __future__ import annotations

import logging

from rq import Retry, get_current_job

from jobs.context import get_db, get_settings
from jobs.progress import annotate
from jobs.queues import JobHandle, enqueue
from services.notify import email

logger = logging.getLogger(__name__)

EMAIL_RETRY_INTERVALS = [30, 120, 600, 1800]  # seconds between attempts: 5 attempts over about 43 minutes


class EmailNotSentYet(Exception):
    """A transient failure with attempts left: RQ runs the job again after the next interval."""


def send_email(email_id: int) -> str:
    annotate(email_id=email_id)
    job = get_current_job()
    final = job is None or not job.retries_left
    status = email.deliver(get_db(), get_settings(), email_id, final_attempt=final)
    if status == "retrying":
        raise EmailNotSentYet(f"email {email_id} not sent yet; retrying")
    return status


def enqueue_email(email_id: int) -> JobHandle:
    return enqueue(send_email, email_id, queue="notify",
                   retry=Retry(max=len(EMAIL_RETRY_INTERVALS), interval=EMAIL_RETRY_INTERVALS))
