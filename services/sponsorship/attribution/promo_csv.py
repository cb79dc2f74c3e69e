"""Promo-code CSV uploads: a sponsor's orders that used a campaign's code (`code, occurred_at, order_id, value`),
stored as `purchase` events with source `promo_csv`. The order id is the event id, so uploading the same orders
again counts nothing twice; a file with any bad row writes nothing and names each bad row's line and field."""
from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

from services.db import Database
from services.errors import ValidationError
from services.sponsorship.attribution.households import HouseholdHasher
from services.sponsorship.attribution.inputs import (
    ConversionEvent, promo_codes_of, sponsor_in_scope, store_events, validate_event,
)
from services.tenancy import TenantContext, require_role

logger = logging.getLogger(__name__)

COLUMNS = ("code", "occurred_at", "order_id", "value")
MAX_ROWS = 100_000


@dataclass(frozen=True)
class RowError:
    line: int  # in the file, the header being line 1
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"line": self.line, "field": self.field, "message": self.message}


@dataclass
class PromoImport:
    accepted: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)
    sponsor_id: int | None = None  # whose orders they are


def import_promo_csv(db: Database, ctx: TenantContext, sponsor_id: int, text: str,
                     now: datetime | None = None) -> PromoImport:
    """Store the file's orders for the sponsor, all or nothing: ValidationError (with `errors`: line -> problem, and
    the RowError list on `.rows`) when any row is bad, and then nothing is written."""
    require_role(ctx, "editor")
    now = now or datetime.now(timezone.utc)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ValidationError(f"the header lacks {', '.join(missing)}", {"header": f"needs {', '.join(COLUMNS)}"})
    reader.fieldnames = header
    result = PromoImport(sponsor_id=sponsor_id)
    with db.session(ctx.tenant_id) as s:
        sponsor_in_scope(s, ctx, sponsor_id)
        codes = promo_codes_of(s, ctx.tenant_id, sponsor_id)
        events: list[ConversionEvent] = []
        for number, row in enumerate(reader):
            line = reader.line_num
            if number >= MAX_ROWS:
                raise ValidationError(f"at most {MAX_ROWS} rows per file", {"file": f"at most {MAX_ROWS} rows"})
            raw = {"event_id": (row.get("order_id") or "").strip(), "order_id": (row.get("order_id") or "").strip(),
                   "type": "purchase", "occurred_at": (row.get("occurred_at") or "").strip(),
                   "value": (row.get("value") or "").strip() or None, "promo_code": (row.get("code") or "").strip()}
            if not raw["promo_code"]:
                result.errors.append(RowError(line, "code", "required"))
                continue
            event, errors = validate_event(raw, line, now, codes, "promo_csv")
            # The order id is the event id: report it under its column's name.
            result.errors.extend(RowError(line, {"event_id": "order_id", "promo_code": "code"}.get(e.field, e.field),
                                          e.message) for e in errors)
            if event is not None:
                events.append(event)
        if result.errors:
            error = ValidationError(f"{len(result.errors)} bad row(s): nothing was imported",
                                    {f"line {e.line}": f"{e.field}: {e.message}" for e in result.errors})
            error.rows = result.errors
            raise error
        result.accepted, result.duplicates = store_events(s, ctx.tenant_id, sponsor_id, events,
                                                          hasher=HouseholdHasher(s, now.date()))
        s.commit()
    logger.info("promo-code orders imported", extra={"sponsor_id": sponsor_id, "accepted": result.accepted,
                                                     "duplicates": result.duplicates})
    return result
