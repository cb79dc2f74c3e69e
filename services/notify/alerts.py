"""Alert rules of a tenant: create, edit, mute, unmute and delete them (editors and above), list them with their
state and read each one's evaluation history (tenant staff; never sponsor users). Evaluation:
services.notify.alert_evaluation."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services import audit
from services.db import Database
from services.errors import NotFound, ValidationError
from services.models import (
    ALERT_CHANNELS, ALERT_METRICS, AlertEvaluation, AlertRule, Campaign, Episode, Membership, Podcast, User,
)
from services.models.base import utcnow
from services.notify.alert_rules import CONDITIONS_FOR, TARGET_KIND, TARGET_REQUIRED
from services.sponsorship.campaign_fields import is_blank, parse_int
from services.tenancy import TenantContext, require_role, require_staff

logger = logging.getLogger(__name__)

FIELDS = ("name", "metric", "target_id", "condition", "threshold", "window_days", "rearm_hours", "channels",
          "recipients")
DEFAULTS = {"window_days": 7, "rearm_hours": 24, "channels": ["in_app", "email"]}
LIMITS = {"window_days": (1, 365), "rearm_hours": (1, 24 * 30)}
HISTORY_LIMIT = 50
MAX_MUTE_HOURS = 24 * 90
TARGET_MODELS = {"podcast": Podcast, "episode": Episode, "campaign": Campaign}


@dataclass(frozen=True)
class RuleRow:
    id: int
    name: str
    metric: str
    target_id: int | None
    target: str | None
    condition: str
    threshold: float | None
    window_days: int
    rearm_hours: int
    channels: list
    recipients: list
    state: str
    muted_until: datetime | None
    evaluated_at: datetime | None
    last_value: float | None


@dataclass(frozen=True)
class EvaluationRow:
    evaluated_at: datetime
    value: float | None
    state: str
    notified: bool


# --- reading ----------------------------------------------------------------------------------------------------

def list_rules(db: Database, ctx: TenantContext) -> list[RuleRow]:
    require_staff(ctx)
    with db.session(ctx.tenant_id) as s:
        rules = list(s.scalars(select(AlertRule).where(AlertRule.tenant_id == ctx.tenant_id).order_by(AlertRule.id)))
        return [_row(s, rule) for rule in rules]


def get_rule(db: Database, ctx: TenantContext, rule_id: int) -> RuleRow:
    require_staff(ctx)
    with db.session(ctx.tenant_id) as s:
        return _row(s, _visible(s, ctx, rule_id))


def rule_history(db: Database, ctx: TenantContext, rule_id: int, limit: int = HISTORY_LIMIT) -> list[EvaluationRow]:
    """The rule's latest evaluations, newest first."""
    require_staff(ctx)
    with db.session(ctx.tenant_id) as s:
        _visible(s, ctx, rule_id)
        rows = s.execute(select(AlertEvaluation.evaluated_at, AlertEvaluation.value, AlertEvaluation.state,
                                AlertEvaluation.notified)
                         .where(AlertEvaluation.tenant_id == ctx.tenant_id, AlertEvaluation.rule_id == rule_id)
                         .order_by(AlertEvaluation.evaluated_at.desc(), AlertEvaluation.id.desc()).limit(limit)).all()
    return [EvaluationRow(*row) for row in rows]


def target_choices(db: Database, ctx: TenantContext, metric: str | None) -> list[tuple[int, str]]:
    """What a rule on `metric` may watch: the tenant's shows, episodes (newest first) or campaigns."""
    require_staff(ctx)
    kind = TARGET_KIND.get(metric or "")
    if kind is None:
        return []
    with db.session(ctx.tenant_id) as s:
        if kind == "podcast":
            stmt = select(Podcast.id, Podcast.title).where(Podcast.tenant_id == ctx.tenant_id).order_by(Podcast.title)
        elif kind == "episode":
            stmt = (select(Episode.id, Podcast.title + " — " + Episode.title).join(Podcast, Podcast.id ==
                                                                                  Episode.podcast_id)
                    .where(Episode.tenant_id == ctx.tenant_id)
                    .order_by(Episode.published_at.desc(), Episode.id.desc()).limit(500))
        else:
            stmt = select(Campaign.id, Campaign.name).where(Campaign.tenant_id == ctx.tenant_id).order_by(Campaign.name)
        return [(int(i), label) for i, label in s.execute(stmt).all()]


def recipient_choices(db: Database, ctx: TenantContext) -> list[tuple[int, str]]:
    """The tenant's staff (never sponsor users), who a rule may name as its recipients."""
    require_staff(ctx)
    with db.session(ctx.tenant_id) as s:
        return [(int(i), f"{name or email} ({role})" if name else f"{email} ({role})")
                for i, name, email, role in s.execute(
                    select(User.id, User.name, User.email, Membership.role).join(Membership, Membership.user_id ==
                                                                                 User.id)
                    .where(Membership.tenant_id == ctx.tenant_id, Membership.role != "sponsor").order_by(User.email))]


def _visible(s: Session, ctx: TenantContext, rule_id: int) -> AlertRule:
    rule = s.scalar(select(AlertRule).where(AlertRule.tenant_id == ctx.tenant_id, AlertRule.id == rule_id))
    if rule is None:
        raise NotFound(f"no alert rule {rule_id}")
    return rule


def _row(s: Session, rule: AlertRule) -> RuleRow:
    return RuleRow(id=rule.id, name=rule.name, metric=rule.metric, target_id=rule.target_id,
                   target=target_label(s, rule.tenant_id, rule.metric, rule.target_id), condition=rule.condition,
                   threshold=rule.threshold, window_days=rule.window_days, rearm_hours=rule.rearm_hours,
                   channels=list(rule.channels or []), recipients=list(rule.recipients or []), state=rule.state,
                   muted_until=rule.muted_until, evaluated_at=rule.evaluated_at, last_value=rule.last_value)


def target_label(s: Session, tenant_id: int, metric: str, target_id: int | None) -> str | None:
    kind = TARGET_KIND.get(metric)
    if kind is None or target_id is None:
        return None
    model = TARGET_MODELS[kind]
    column = model.name if kind == "campaign" else model.title
    return s.scalar(select(column).where(model.tenant_id == tenant_id, model.id == target_id))


# --- changing ---------------------------------------------------------------------------------------------------

def create_rule(db: Database, ctx: TenantContext, data: dict) -> RuleRow:
    """Validate the form (a message per bad field) and store the rule in state ok."""
    require_staff(ctx)
    require_role(ctx, "editor")
    with db.session(ctx.tenant_id) as s:
        values = validate_rule(s, ctx, data)
        rule = AlertRule(tenant_id=ctx.tenant_id, state="ok", created_by_user_id=ctx.user_id, **values)
        s.add(rule)
        s.flush()
        audit.record(s, ctx, "alert_rule.created", "alert_rule", rule.id, {"name": rule.name, "metric": rule.metric})
        s.commit()
        return _row(s, rule)


def update_rule(db: Database, ctx: TenantContext, rule_id: int, data: dict) -> RuleRow:
    """Replace the rule's settings (the whole form, validated again). A changed rule starts again from ok, unless it
    is muted: the mute holds until its time."""
    require_staff(ctx)
    require_role(ctx, "editor")
    with db.session(ctx.tenant_id) as s:
        rule = _visible(s, ctx, rule_id)
        for key, value in validate_rule(s, ctx, data).items():
            setattr(rule, key, value)
        if rule.state != "muted":
            rule.state, rule.triggered_at, rule.notified_at = "ok", None, None
        audit.record(s, ctx, "alert_rule.updated", "alert_rule", rule.id, {"name": rule.name, "metric": rule.metric})
        s.commit()
        return _row(s, rule)


def mute_rule(db: Database, ctx: TenantContext, rule_id: int, hours: int, now: datetime | None = None) -> RuleRow:
    """Silence the rule until `hours` from now; evaluations go on (history) but notify nobody."""
    require_staff(ctx)
    require_role(ctx, "editor")
    if not 1 <= hours <= MAX_MUTE_HOURS:
        raise ValidationError(f"mute for 1 to {MAX_MUTE_HOURS} hours", {"hours": f"1 to {MAX_MUTE_HOURS}"})
    with db.session(ctx.tenant_id) as s:
        rule = _visible(s, ctx, rule_id)
        rule.state, rule.muted_until = "muted", (now or utcnow()) + timedelta(hours=hours)
        audit.record(s, ctx, "alert_rule.muted", "alert_rule", rule.id, {"hours": hours})
        s.commit()
        return _row(s, rule)


def unmute_rule(db: Database, ctx: TenantContext, rule_id: int) -> RuleRow:
    """Back to ok: the next evaluation notifies if the condition holds."""
    require_staff(ctx)
    require_role(ctx, "editor")
    with db.session(ctx.tenant_id) as s:
        rule = _visible(s, ctx, rule_id)
        rule.state, rule.muted_until, rule.triggered_at, rule.notified_at = "ok", None, None, None
        audit.record(s, ctx, "alert_rule.unmuted", "alert_rule", rule.id)
        s.commit()
        return _row(s, rule)


def delete_rule(db: Database, ctx: TenantContext, rule_id: int) -> None:
    require_staff(ctx)
    require_role(ctx, "editor")
    with db.session(ctx.tenant_id) as s:
        rule = _visible(s, ctx, rule_id)
        audit.record(s, ctx, "alert_rule.deleted", "alert_rule", rule.id, {"name": rule.name})
        s.delete(rule)
        s.commit()


# --- the form's rules -------------------------------------------------------------------------------------------

def validate_rule(s: Session, ctx: TenantContext, data: dict) -> dict:
    """Every field parsed and checked; raises ValidationError with a message per bad field."""
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise ValidationError(f"unknown fields: {', '.join(sorted(unknown))}", {f: "not a rule field" for f in unknown})
    errors: dict[str, str] = {}
    out: dict = {}
    name = (data.get("name") or "").strip() if isinstance(data.get("name"), str) else ""
    if not name or len(name) > 200:
        errors["name"] = "a name of 1 to 200 characters"
    out["name"] = name
    metric = data.get("metric")
    if metric not in ALERT_METRICS:
        errors["metric"] = f"one of {', '.join(ALERT_METRICS)}"
    out["metric"] = metric
    condition = data.get("condition")
    allowed = CONDITIONS_FOR.get(metric, ())
    if condition not in allowed:
        errors["condition"] = f"one of {', '.join(allowed)}" if allowed else "choose the metric first"
    out["condition"] = condition
    out["threshold"] = _threshold(data.get("threshold"), condition, errors)
    for key, (lo, hi) in LIMITS.items():
        out[key] = _bounded_int(data.get(key), DEFAULTS[key], lo, hi, key, errors)
    out["channels"] = _channels(data.get("channels"), errors)
    out["target_id"] = _target(s, ctx, metric, data.get("target_id"), errors)
    out["recipients"] = _recipients(s, ctx, data.get("recipients"), errors)
    if errors:
        raise ValidationError("check the fields marked", errors)
    return out


def _threshold(value, condition, errors: dict) -> float | None:
    if condition == "anomaly":
        return None
    number = _number(value)
    if number is None:
        errors["threshold"] = "a number (a percent for a change, e.g. -30 for a drop of 30%)"
    elif condition == "change" and number == 0:
        errors["threshold"] = "a change other than 0%: negative for a drop, positive for a rise"
    return number


def _number(value) -> float | None:
    if is_blank(value) or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _bounded_int(value, default: int, lo: int, hi: int, key: str, errors: dict) -> int:
    if is_blank(value):
        return default
    try:
        number = parse_int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not lo <= number <= hi:
        errors[key] = f"a whole number from {lo} to {hi}"
        return default
    return number


def _channels(value, errors: dict) -> list[str]:
    if value is None:
        return list(DEFAULTS["channels"])
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or any(c not in ALERT_CHANNELS for c in items):
        errors["channels"] = f"any of {', '.join(ALERT_CHANNELS)} (webhooks receive every alert anyway)"
        return []
    return [c for c in ALERT_CHANNELS if c in items]


def _target(s: Session, ctx: TenantContext, metric, value, errors: dict) -> int | None:
    kind = TARGET_KIND.get(metric)
    if is_blank(value):
        if metric in TARGET_REQUIRED:
            errors["target_id"] = f"choose the {kind}"
        return None
    if kind is None:
        errors["target_id"] = "this metric watches the whole tenant: leave it empty"
        return None
    try:
        target_id = parse_int(value)
    except (TypeError, ValueError):
        errors["target_id"] = f"a {kind} id"
        return None
    model = TARGET_MODELS[kind]
    if s.scalar(select(model.id).where(model.tenant_id == ctx.tenant_id, model.id == target_id)) is None:
        errors["target_id"] = f"no {kind} {target_id}"
        return None
    return target_id


def _recipients(s: Session, ctx: TenantContext, value, errors: dict) -> list[int]:
    if is_blank(value):
        return []
    try:
        ids = sorted({parse_int(v) for v in ([value] if not isinstance(value, (list, tuple)) else value)})
    except (TypeError, ValueError):
        errors["recipients"] = "user ids"
        return []
    staff = set(s.scalars(select(Membership.user_id).where(Membership.tenant_id == ctx.tenant_id,
                                                           Membership.role != "sponsor",
                                                           Membership.user_id.in_(ids))))
    missing = [i for i in ids if i not in staff]
    if missing:
        errors["recipients"] = f"not staff of this tenant: {', '.join(map(str, missing))}"
    return ids
