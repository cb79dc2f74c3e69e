"""Alert jobs: evaluate a tenant's alert rules (after each counting run, and hourly for every tenant with rules), and
the under-pacing check after a delivery refresh. Idempotent: a rule is evaluated once per run id; the under-pacing
notice once per campaign per UTC day."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

from rq import get_current_job

from jobs.context import get_db, get_settings
from jobs.progress import annotate, report_progress
from jobs.queues import JobHandle, enqueue
from services.notify import alert_evaluation
from services.sponsorship import under_pacing

logger = logging.getLogger(__name__)


def hourly_run_id(now: datetime | None = None) -> str:
    return "hour:" + (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H")


def evaluate_tenant_alerts(tenant_id: int, run_id: str | None = None) -> list[dict]:
    """Every rule of the tenant, once for `run_id` (default: this UTC hour's periodic run)."""
    annotate(tenant_id=tenant_id)
    outcomes = alert_evaluation.evaluate_tenant(get_db(), tenant_id, run_id or hourly_run_id())
    report_progress(1.0, f"{len(outcomes)} rules evaluated")
    return [o.as_dict() for o in outcomes]


def evaluate_all_alerts() -> list[str]:
    """The hourly job: one evaluation job per tenant with rules, all under this hour's run id."""
    run_id = hourly_run_id()
    return [enqueue(evaluate_tenant_alerts, tenant_id, run_id, queue="measure").id
            for tenant_id in alert_evaluation.tenants_with_rules(get_db())]


def after_delivery_refresh(tenant_id: int, campaign_ids: list[int]) -> JobHandle:
    """Chained after counting, once delivery is current: the under-pacing notices of the refreshed campaigns, then
    the tenant's rules under a run id of this counting run (a retried job evaluates nothing twice)."""
    recorded = under_pacing.record_under_pacing(get_db(), tenant_id, list(campaign_ids),
                                                behind=get_settings().alert_pacing_behind)
    if recorded:
        logger.info("under-pacing notices", extra={"tenant_id": tenant_id, "campaign_ids": recorded})
    return enqueue(evaluate_tenant_alerts, tenant_id, f"count:{_run_key()}", queue="measure")


def _run_key() -> str:
    job = get_current_job()
    return job.id if job is not None else uuid.uuid4().hex
