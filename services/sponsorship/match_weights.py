"""The network's matchmaking weights: defaults in code (match_scoring.DEFAULT_WEIGHTS), the network's own stored per
tenant; owners and admins change them."""
from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from services import audit
from services.db import Database
from services.errors import ValidationError
from services.models import MatchmakingWeights
from services.models.base import utcnow
from services.sponsorship.match_scoring import DEFAULT_WEIGHTS, FACTORS, MAX_WEIGHT
from services.tenancy import TenantContext, require_role, require_staff


def weights_in_session(s: Session, tenant_id: int) -> dict[str, float]:
    stored = s.scalar(select(MatchmakingWeights.weights).where(MatchmakingWeights.tenant_id == tenant_id)) or {}
    return {name: float(stored.get(name, DEFAULT_WEIGHTS[name])) for name in FACTORS}


def get_weights(db: Database, ctx: TenantContext) -> dict[str, float]:
    """The weights in force for the context's network (staff only: sponsor users see no matchmaking)."""
    require_staff(ctx)
    with db.session(ctx.tenant_id) as s:
        return weights_in_session(s, ctx.tenant_id)


def _weight(value) -> float:
    if isinstance(value, bool) or value is None:
        raise ValueError
    number = float(value.strip()) if isinstance(value, str) else float(value)
    if not math.isfinite(number) or not 0 <= number <= MAX_WEIGHT:
        raise ValueError
    return number


def clean_weights(data: dict) -> dict[str, float]:
    """Every factor's weight, a number from 0 to MAX_WEIGHT (a missing or blank one: its default); at least one
    above 0. Raises ValidationError naming each bad factor."""
    errors = {name: "unknown factor" for name in sorted(set(data) - set(FACTORS))}
    out = {}
    for name in FACTORS:
        raw = data.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            out[name] = DEFAULT_WEIGHTS[name]
            continue
        try:
            out[name] = _weight(raw)
        except (ValueError, TypeError):
            errors[name] = f"a number from 0 to {MAX_WEIGHT:g}"
    if not errors and not any(out.values()):
        errors["weights"] = "at least one weight above 0"
    if errors:
        raise ValidationError("; ".join(f"{k}: {v}" for k, v in errors.items()), errors)
    return out


def save_weights(db: Database, ctx: TenantContext, data: dict) -> dict[str, float]:
    """Store the network's weights (owners and admins); audited. Returns the weights now in force."""
    require_role(ctx, "admin")
    require_staff(ctx)
    weights = clean_weights(data)
    with db.session(ctx.tenant_id) as s:
        row = s.get(MatchmakingWeights, ctx.tenant_id)
        if row is None:
            row = MatchmakingWeights(tenant_id=ctx.tenant_id, weights=weights)
            s.add(row)
        else:
            row.weights, row.updated_at = weights, utcnow()
        audit.record(s, ctx, "matchmaking.weights_changed", "tenant", ctx.tenant_id, weights)
        s.commit()
    return weights
