"""Scheduled reports' runs: find the subscriptions that are due and record one run per subscription per period (the
unique period key makes a second tick or a retry a no-op), then send a run: read its figures as the subscriber,
draw and check its charts, email it. A chart that fails fails the run: its error is kept, the subscriber gets an
in-app notification, and nothing is sent."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from services import accounts
from services.db import Database
from services.errors import NotFound, ServiceError
from services.models import ReportRun, ReportSubscription, Tenant, User
from services.models.base import utcnow
from services.notify import inapp
from services.notify.email import DeliveryFailure, transmit
from services.notify.recipients import Recipient
from services.notify.reports import content as report_content
from services.notify.reports.charts import ChartRenderError, Renderer, render_charts
from services.notify.reports.email_render import build_message, preview_html
from services.notify.reports.schedule import Occurrence, is_due, latest_occurrence
from services.notify.reports.subscriptions import _own, _target_name, tenant_timezone
from services.settings import Settings
from services.tenancy import TenantContext

logger = logging.getLogger(__name__)

SETTLED = ("sent", "written", "failed")
CLAIMABLE = ("queued", "retrying")
REQUEUE_AFTER = timedelta(minutes=15)  # a run still queued this long after its tick lost its job: queue it again


@dataclass(frozen=True)
class RunOutcome:
    status: str
    error: str | None = None


def record_due_runs(db: Database, now: datetime | None = None) -> list[int]:
    """Record a run for every active subscription whose latest scheduled moment has passed and has no run yet;
    returns the ids of the runs to send (the new ones, and any left queued too long). Safe to call repeatedly."""
    now = now or datetime.now(timezone.utc)
    new_ids: list[int] = []
    with db.session(system=True) as s:
        rows = s.execute(select(ReportSubscription, Tenant.timezone)
                         .join(Tenant, Tenant.id == ReportSubscription.tenant_id)
                         .where(ReportSubscription.active.is_(True)).order_by(ReportSubscription.id)).all()
        for sub, tz_name in rows:
            occurrence = latest_occurrence(sub.frequency, sub.day, sub.hour, tz_name or "UTC", now)
            if not is_due(occurrence, sub.created_at):
                continue
            exists = s.scalar(select(ReportRun.id).where(ReportRun.subscription_id == sub.id,
                                                         ReportRun.period_key == occurrence.period_key))
            if exists is not None:
                continue
            try:
                with s.begin_nested():  # another scheduler may record the same run at the same moment
                    run = ReportRun(tenant_id=sub.tenant_id, subscription_id=sub.id, user_id=sub.user_id,
                                    period_key=occurrence.period_key, period_start=occurrence.period_start,
                                    period_end=occurrence.period_end, due_at=occurrence.due_at, status="queued",
                                    attempts=0)
                    s.add(run)
                new_ids.append(run.id)
            except IntegrityError:
                continue
        s.commit()
        stale = s.scalars(select(ReportRun.id).where(ReportRun.status == "queued",
                                                     ReportRun.created_at < now - REQUEUE_AFTER)).all()
    return new_ids + [i for i in stale if i not in new_ids]


def _claim(db: Database, run_id: int) -> ReportRun | None:
    """Move the run to `sending` unless another attempt holds it or it is settled; None when not ours to send."""
    with db.session(system=True) as s:
        claimed = s.execute(update(ReportRun).where(ReportRun.id == run_id, ReportRun.status.in_(CLAIMABLE))
                            .values(status="sending", attempts=ReportRun.attempts + 1)).rowcount
        s.commit()
        run = s.get(ReportRun, run_id)
    if run is None:
        raise NotFound(f"no report run {run_id}")
    return run if claimed == 1 else None


def _finish(db: Database, run: ReportRun, status: str, error: str | None = None, to: str | None = None,
            notify_failure: bool = False) -> RunOutcome:
    with db.session(run.tenant_id) as s:
        row = s.get(ReportRun, run.id)
        row.status, row.error = status, (error or None) and error[:2000]
        if to:
            row.to_address = to
        if status in SETTLED:
            row.finished_at = utcnow()
        if notify_failure:
            sub = s.get(ReportSubscription, run.subscription_id)
            email = s.scalar(select(User.email).where(User.id == run.user_id)) or ""
            inapp.add(s, run.tenant_id, [Recipient(run.user_id, email, sub.sponsor_id if sub else None)],
                      kind="report.failed",
                      title=f"Your report for {run.period_start:%d %b} – {run.period_end:%d %b %Y} was not sent",
                      body=error or "", link="/settings/reports")
        s.commit()
    if status == "failed":
        logger.warning("report not sent", extra={"run_id": run.id, "error": error})
    return RunOutcome(status, error)


def subscriber_context(db: Database, sub: ReportSubscription) -> TenantContext:
    """The subscriber's own context now: a report holds what they may see today (a departed member: nothing)."""
    ctx = accounts.resolve_context(db, sub.user_id, sub.tenant_id)
    if ctx is None or ctx.tenant_id != sub.tenant_id:
        raise NotFound("the subscriber is no longer a member of this network")
    if sub.sponsor_id is not None and (not ctx.is_sponsor or ctx.sponsor_id != sub.sponsor_id):
        raise NotFound("the subscriber no longer belongs to this sponsor")
    return ctx


def report_content_for(db: Database, ctx: TenantContext, sub: ReportSubscription,
                       occurrence: Occurrence) -> report_content.ReportContent:
    if sub.kind == "campaign":
        return report_content.campaign_report(db, ctx, sub.target_id, occurrence)
    with db.session(ctx.tenant_id) as s:
        name = _target_name(s, ctx, sub.kind, sub.target_id)
    title = f"Weekly report: {name}" if sub.frequency == "weekly" else f"Monthly report: {name}"
    return report_content.audience_report(db, ctx, title, occurrence, sub.target_id if sub.kind == "show" else None)


def send_run(db: Database, settings: Settings, run_id: int, final_attempt: bool = True,
             renderer: Renderer | None = None) -> RunOutcome:
    """Send one run (the job's work). "retrying" means a transient SMTP failure with attempts left; "gone" that the
    run was deleted with its subscription before it was sent."""
    try:
        run = _claim(db, run_id)
    except NotFound:
        return RunOutcome("gone")
    if run is None:
        with db.session(system=True) as s:
            current = s.get(ReportRun, run_id)
            return RunOutcome(current.status, current.error)
    with db.session(system=True) as s:
        sub = s.get(ReportSubscription, run.subscription_id)
        to = s.scalar(select(User.email).where(User.id == run.user_id, User.is_active.is_(True)))
    occurrence = Occurrence(run.due_at, run.period_start, run.period_end, run.period_key)
    try:
        if to is None:
            raise NotFound("the subscriber's account is inactive")
        ctx = subscriber_context(db, sub)
        content = report_content_for(db, ctx, sub, occurrence)
        images = render_charts(content.charts, settings.chart_browser_path, renderer)
    except ChartRenderError as exc:
        return _finish(db, run, "failed", str(exc), to, notify_failure=True)
    except ServiceError as exc:  # the target was deleted, the subscriber left, ...: said in the history
        return _finish(db, run, "failed", exc.message, to, notify_failure=True)
    domain = settings.mail_from.rsplit("@", 1)[-1].strip(" >") or "localhost"
    message = build_message(content, images, settings.mail_from, to, settings.public_base_url,
                            f"<report-{run.tenant_id}-{run.id}@{domain}>")
    try:
        status = transmit(settings, message, f"report-{run.tenant_id}-{run.id}")
    except DeliveryFailure as exc:
        status = "failed" if exc.permanent or final_attempt else "retrying"
        return _finish(db, run, status, str(exc), to, notify_failure=status == "failed")
    return _finish(db, run, status, None, to)


def preview(db: Database, ctx: TenantContext, settings: Settings, subscription_id: int,
            now: datetime | None = None, renderer: Renderer | None = None) -> tuple[str, str]:
    """(subject, HTML) of the report this subscription would send for its latest period, the charts inlined as
    data: URIs. Raises ChartRenderError as sending would."""
    with db.session(ctx.tenant_id) as s:
        sub = _own(s, ctx, subscription_id)
        tz_name = tenant_timezone(s, ctx.tenant_id)
    occurrence = latest_occurrence(sub.frequency, sub.day, sub.hour, tz_name, now or datetime.now(timezone.utc))
    content = report_content_for(db, ctx, sub, occurrence)
    images = render_charts(content.charts, settings.chart_browser_path, renderer)
    return content.subject, preview_html(content, images, settings.public_base_url)
