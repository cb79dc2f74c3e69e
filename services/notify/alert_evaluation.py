"""Evaluating a tenant's alert rules: read each rule's metric from the rollups, check its condition, step its state,
keep the evaluation in the history and, on a trigger or a re-notice after re-arm, record `alert.triggered` through
the outbox in the same transaction as the state change (the notifications workflow sends it).

A rule is evaluated once per run (`run_id`: the hour of the periodic run, or the counting run it follows): a retried
job records no second evaluation and no second event.

The `anomaly` condition asks an anomaly provider. ANOMALY_PROVIDER names it by import path ("module:function",
called as provider(db, AnomalyQuery) -> AnomalyVerdict | None), resolved when a rule needs it: by default the
anomalies the insights domain stored after counting (stored_anomalies). When the provider has no series for the
metric the condition reads "no data" and the rule's state does not change."""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.db import Database
from services.events import outbox
from services.insights import anomaly_store
from services.models import AlertEvaluation, AlertRule
from services.models.base import utcnow
from services.notify.alert_metrics import RuleSpec, read_metric
from services.notify.alert_rules import (
    AnomalyVerdict, Reading, RuleState, Verdict, check_condition, describe, next_step,
)
from services.notify.alerts import target_label

logger = logging.getLogger(__name__)

EVENT_TYPE = "alert.triggered"
ANOMALY_PROVIDER: str | None = "services.notify.alert_evaluation:stored_anomalies"  # "module:function"


@dataclass(frozen=True)
class AnomalyQuery:
    """What the anomaly provider is asked: is this tenant's metric (of this target) anomalous as of `as_of`?"""

    tenant_id: int
    metric: str
    target_id: int | None
    window_days: int
    as_of: date
    value: float | None


AnomalyProvider = Callable[[Database, AnomalyQuery], AnomalyVerdict | None]


def no_anomaly_data(_db: Database, _query: AnomalyQuery) -> AnomalyVerdict | None:
    """The provider until forecasts exist: no data, so an anomaly rule never changes state."""
    return None


def stored_anomalies(db: Database, query: AnomalyQuery) -> AnomalyVerdict | None:
    """The insights domain's verdict: a show's downloads are anomalous when the anomaly rules (services/insights,
    run after each count) stored an anomaly of that show's daily downloads in the rule's window. Other metrics have
    no anomaly series: "no data"."""
    if query.metric != "show_downloads" or query.target_id is None:
        return None
    first = query.as_of - timedelta(days=query.window_days)
    with db.session(query.tenant_id) as s:
        found = anomaly_store.latest_anomaly(s, query.tenant_id, query.target_id, "downloads", first, query.as_of)
    if found is None:
        return AnomalyVerdict(False, query.value or 0.0)
    return AnomalyVerdict(True, float(found.value), expected=float(found.expected),
                          detail=f"{found.kind} on {found.day}" + (f" ({found.cause})" if found.cause else ""))


def anomaly_provider() -> AnomalyProvider:
    if not ANOMALY_PROVIDER:
        return no_anomaly_data
    module, _, name = ANOMALY_PROVIDER.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Outcome:
    rule_id: int
    value: float | None
    state: str
    notified: bool

    def as_dict(self) -> dict:
        return {"rule_id": self.rule_id, "value": self.value, "state": self.state, "notified": self.notified}


def evaluate_tenant(db: Database, tenant_id: int, run_id: str, now: datetime | None = None,
                    provider: AnomalyProvider | None = None) -> list[Outcome]:
    """Every rule of the tenant, each in its own transaction; rules already evaluated in this run are skipped. A rule
    that fails is logged and the others still run; the first failure is raised at the end (a retry of the run
    evaluates only the rules it missed)."""
    now = now or utcnow()
    with db.session(tenant_id) as s:
        ids = list(s.scalars(select(AlertRule.id).where(AlertRule.tenant_id == tenant_id).order_by(AlertRule.id)))
    outcomes, failure = [], None
    for rule_id in ids:
        try:
            outcomes.append(evaluate_rule(db, tenant_id, rule_id, run_id, now, provider))
        except Exception as exc:  # one broken rule must not silence the others; the job still fails, visibly
            logger.exception("alert rule evaluation failed", extra={"tenant_id": tenant_id, "rule_id": rule_id})
            failure = failure or exc
    if failure is not None:
        raise failure
    return [o for o in outcomes if o is not None]


def evaluate_rule(db: Database, tenant_id: int, rule_id: int, run_id: str, now: datetime,
                  provider: AnomalyProvider | None = None) -> Outcome | None:
    """Measure outside the write (pacing reads in its own sessions), then step the state, keep the history and record
    the event in one transaction; None when the rule is gone or this run has already evaluated it."""
    with db.session(tenant_id) as s:
        rule = _rule(s, tenant_id, rule_id)
        if rule is None or _evaluated(s, rule_id, run_id):
            return None
        spec = _spec(rule)
    reading = read_metric(db, spec, now)
    verdict = check_condition(spec.condition, spec.threshold, reading, _anomaly(db, spec, reading, now, provider))
    with db.session(tenant_id) as s:
        rule = _rule(s, tenant_id, rule_id, lock=True)
        if rule is None or _evaluated(s, rule_id, run_id):
            return None
        step = next_step(RuleState(rule.state, _aware(rule.muted_until), _aware(rule.triggered_at),
                                   _aware(rule.notified_at)), verdict.breached, now,
                         timedelta(hours=rule.rearm_hours))
        _apply(rule, step.state, verdict, now)
        s.add(AlertEvaluation(tenant_id=tenant_id, rule_id=rule_id, run_id=run_id, evaluated_at=now,
                              value=verdict.measured, state=step.state.state, notified=step.notify))
        if step.notify:
            outbox.record(s, tenant_id, EVENT_TYPE, alert_payload(s, spec, verdict, reading))
        try:
            s.commit()
        except IntegrityError:  # a concurrent run of the same id got there first
            s.rollback()
            return None
    if step.notify:
        logger.info("alert triggered", extra={"tenant_id": tenant_id, "rule_id": rule_id, "value": verdict.measured})
    return Outcome(rule_id, verdict.measured, step.state.state, step.notify)


def alert_payload(s: Session, spec: RuleSpec, verdict: Verdict, reading: Reading) -> dict:
    """The `alert.triggered` payload the workflow notifies from (contract: rule_id, name, metric, value, threshold,
    channels, title, body, link, and user_ids when the rule names its recipients)."""
    target = target_label(s, spec.tenant_id, spec.metric, spec.target_id)
    body = describe(spec.metric, target, spec.condition, spec.threshold, verdict.measured, spec.window_days)
    payload = {"rule_id": spec.id, "name": spec.name, "metric": spec.metric, "condition": spec.condition,
               "target_id": spec.target_id, "value": verdict.measured, "threshold": spec.threshold,
               "channels": list(spec.channels), "title": f"Alert: {spec.name}",
               "body": body + (f" Period: {reading.detail}." if reading.detail else ""),
               "link": f"/alerts?rule={spec.id}"}
    if spec.recipients:
        payload["user_ids"] = list(spec.recipients)
    return payload


def _anomaly(db: Database, spec: RuleSpec, reading: Reading, now: datetime,
             provider: AnomalyProvider | None) -> AnomalyVerdict | None:
    if spec.condition != "anomaly":
        return None
    query = AnomalyQuery(spec.tenant_id, spec.metric, spec.target_id, spec.window_days, now.date(), reading.value)
    return (provider or anomaly_provider())(db, query)


def _rule(s: Session, tenant_id: int, rule_id: int, lock: bool = False) -> AlertRule | None:
    stmt = select(AlertRule).where(AlertRule.tenant_id == tenant_id, AlertRule.id == rule_id)
    return s.scalar(stmt.with_for_update() if lock else stmt)


def _evaluated(s: Session, rule_id: int, run_id: str) -> bool:
    return s.scalar(select(AlertEvaluation.id).where(AlertEvaluation.rule_id == rule_id,
                                                     AlertEvaluation.run_id == run_id)) is not None


def _spec(rule: AlertRule) -> RuleSpec:
    return RuleSpec(id=rule.id, tenant_id=rule.tenant_id, name=rule.name, metric=rule.metric,
                    target_id=rule.target_id, condition=rule.condition, threshold=rule.threshold,
                    window_days=rule.window_days, rearm_hours=rule.rearm_hours, channels=tuple(rule.channels or ()),
                    recipients=tuple(rule.recipients or ()))


def _apply(rule: AlertRule, state: RuleState, verdict: Verdict, now: datetime) -> None:
    rule.state, rule.muted_until = state.state, state.muted_until
    rule.triggered_at, rule.notified_at = state.triggered_at, state.notified_at
    rule.evaluated_at, rule.last_value = now, verdict.measured


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def tenants_with_rules(db: Database) -> list[int]:
    """The periodic run's work list (a system read: it spans tenants)."""
    with db.session(system=True) as s:
        return sorted(s.scalars(select(AlertRule.tenant_id).distinct()))
