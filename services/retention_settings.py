"""A tenant's own retention of raw requests and of conversions: read by staff, changed by owners (audited as
privacy.retention_changed), applied by the daily retention job (services.measurement.retention)."""
from __future__ import annotations

from dataclasses import dataclass

from services import audit
from services.db import Database
from services.errors import NotFound, ValidationError
from services.measurement.methodology import RAW_RETENTION_DAYS
from services.models import Tenant
from services.tenancy import TenantContext, require_role, require_staff

MIN_DAYS = 30
# Raw requests may be kept for fewer days than the deployment's, never more: the monthly listener secrets and, on
# TimescaleDB, the hypertable's retention policy go at RAW_RETENTION_DAYS for every tenant alike.
RAW_MAX_DAYS = RAW_RETENTION_DAYS
CONVERSION_MAX_DAYS = 3650
FIELDS = {"raw_request_retention_days": ("raw requests", RAW_MAX_DAYS),
          "conversion_retention_days": ("conversions", CONVERSION_MAX_DAYS)}


@dataclass(frozen=True)
class Retention:
    raw_request_retention_days: int | None
    conversion_retention_days: int | None


def parse_days(field: str, value) -> int | None:
    """Empty means the deployment default; otherwise a whole number of days within the field's bounds."""
    label, maximum = FIELDS[field]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValidationError(f"{label}: a whole number of days, or empty for the default", {field: "not whole"})
    try:
        days = int(str(value).strip()) if not isinstance(value, float) else int(value)
    except ValueError:
        raise ValidationError(f"{label}: a whole number of days, or empty for the default",
                              {field: "not a number"}) from None
    if not MIN_DAYS <= days <= maximum:
        raise ValidationError(f"{label}: between {MIN_DAYS} and {maximum} days, or empty for the default",
                              {field: "out of range"})
    return days


def get_retention(db: Database, ctx: TenantContext) -> Retention:
    require_staff(ctx)
    with db.session(ctx.tenant_id) as s:
        tenant = s.get(Tenant, ctx.tenant_id)
        if tenant is None:
            raise NotFound("no such tenant")
        return Retention(tenant.raw_request_retention_days, tenant.conversion_retention_days)


def set_retention(db: Database, ctx: TenantContext, raw_request_days, conversion_days) -> Retention:
    """Owners only; both values validated before either is stored; audited when something changed."""
    require_role(ctx, "owner")
    chosen = Retention(parse_days("raw_request_retention_days", raw_request_days),
                       parse_days("conversion_retention_days", conversion_days))
    with db.session(ctx.tenant_id) as s:
        tenant = s.get(Tenant, ctx.tenant_id)
        if tenant is None:
            raise NotFound("no such tenant")
        before = Retention(tenant.raw_request_retention_days, tenant.conversion_retention_days)
        if before != chosen:
            tenant.raw_request_retention_days = chosen.raw_request_retention_days
            tenant.conversion_retention_days = chosen.conversion_retention_days
            audit.record(s, ctx, "privacy.retention_changed", "tenant", tenant.id,
                         {f: [getattr(before, f), getattr(chosen, f)] for f in FIELDS
                          if getattr(before, f) != getattr(chosen, f)})
        s.commit()
    return chosen
