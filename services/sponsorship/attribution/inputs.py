"""Conversion inputs: validate events from a sponsor's site or server and store them idempotently by event id.

Every way in (server to server, the pixel, link clicks, promo-code CSVs) ends in store_events: the event ids go
into the `attribution_event_ids` ledger first (ON CONFLICT DO NOTHING), and only the ids that were new get an
`attribution_events` row, in the caller's transaction. The same event id of a sponsor counts once, whatever its
timestamp, however often it is retried, even when two writers race (the ledger's primary key decides)."""
from __future__ import annotations

import ipaddress
import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.db import Database
from services.errors import NotFound, ValidationError
from services.models import EVENT_TYPES, AttributionEvent, AttributionEventId, Campaign, Sponsor
from services.sponsorship.attribution.households import HouseholdHasher
from services.sponsorship.attribution.shared_ips import SharedIpClassifier, default_classifier
from services.tenancy import TenantContext, require_role

logger = logging.getLogger(__name__)

MAX_BATCH = 1000
MAX_FUTURE = timedelta(days=1)
MAX_PAST = timedelta(days=400)
MAX_VALUE = Decimal("999999999999.99")  # Numeric(14, 2)
CENT = Decimal("0.01")
# Field -> the most characters kept; longer text is refused (a pixel's URLs are cut instead: see pixel.py).
LIMITS = {"event_id": 128, "order_id": 128, "promo_code": 64, "page_url": 2000, "referrer": 2000, "user_agent": 1000}
S2S_FIELDS = {"event_id", "type", "occurred_at", "ip", "user_agent", "value", "currency", "order_id", "promo_code",
              "page_url", "referrer", "utm"}


@dataclass(frozen=True)
class FieldError:
    index: int
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"index": self.index, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class ConversionEvent:
    """One valid event, ready to store (no household keys yet: they are computed from `ip` at store time)."""
    event_id: str
    type: str
    occurred_at: datetime  # UTC
    source: str
    ip: str | None = None
    value: Decimal | None = None
    currency: str | None = None
    order_id: str | None = None
    promo_code: str | None = None
    campaign_id: int | None = None
    page_url: str | None = None
    referrer: str | None = None
    utm: dict | None = None


@dataclass
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    errors: list[FieldError] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "errors": [e.as_dict() for e in self.errors]}


def parse_occurred_at(value, now: datetime) -> datetime:
    """ISO 8601 (a time zone, or UTC assumed) within [now - 400 days, now + 1 day]; ValueError saying why not."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("an ISO 8601 date-time, e.g. 2026-03-01T12:00:00Z")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date-time") from None
    moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    if moment > now + MAX_FUTURE:
        raise ValueError("more than 1 day in the future")
    if moment < now - MAX_PAST:
        raise ValueError("more than 400 days in the past")
    return moment


def parse_value(value) -> Decimal:
    """A decimal amount >= 0 (a JSON number or numeric text), rounded to cents."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError("a number >= 0")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a finite number >= 0")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not amount.is_finite():
        raise ValueError("a finite number >= 0")
    if amount < 0:
        raise ValueError("must be >= 0")
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if amount > MAX_VALUE:
        raise ValueError(f"at most {MAX_VALUE}")
    return amount


def _text(raw: dict, name: str, errors: dict[str, str], required: bool = False) -> str | None:
    value = raw.get(name)
    if value is None or value == "":
        if required:
            errors[name] = "required"
        return None
    if not isinstance(value, str):
        errors[name] = "must be text"
        return None
    if len(value) > LIMITS.get(name, 2000):
        errors[name] = f"at most {LIMITS.get(name, 2000)} characters"
        return None
    return value


def validate_event(raw, index: int, now: datetime, promo_codes: dict[str, int], source: str,
                   allowed_fields: set[str] | None = None, require_ip: bool = False
                   ) -> tuple[ConversionEvent | None, list[FieldError]]:
    """One event checked field by field: the event, or the errors naming each bad field.

    `promo_codes` maps the sponsor's campaign codes (lower case) to campaign ids; a code matches case-insensitively."""
    if not isinstance(raw, dict):
        return None, [FieldError(index, "event", "must be a JSON object")]
    errors: dict[str, str] = {}
    if allowed_fields is not None:
        for name in sorted(set(raw) - allowed_fields):
            errors[name] = "unknown field"
    event_id = _text(raw, "event_id", errors, required=True)
    if event_id is not None and not event_id.isprintable():
        errors["event_id"] = "printable characters only"
    kind = raw.get("type")
    if kind not in EVENT_TYPES:
        errors["type"] = f"one of {', '.join(EVENT_TYPES)}"
    occurred_at = None
    try:
        occurred_at = parse_occurred_at(raw.get("occurred_at"), now)
    except ValueError as exc:
        errors["occurred_at"] = str(exc)
    ip = raw.get("ip")
    if ip is None or ip == "":
        ip = None
        if require_ip:
            errors["ip"] = "required"
    elif not isinstance(ip, str):
        errors["ip"] = "an IPv4 or IPv6 address"
    else:
        try:
            ip = str(ipaddress.ip_address(ip.strip()))
        except ValueError:
            errors["ip"] = f"{ip!r} is not an IPv4 or IPv6 address"
    _text(raw, "user_agent", errors)  # accepted for the record's sake; household keys use the address only
    value = None
    if raw.get("value") not in (None, ""):
        try:
            value = parse_value(raw["value"])
        except ValueError as exc:
            errors["value"] = str(exc)
    currency = _text(raw, "currency", errors)
    if currency is not None:
        if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
            errors["currency"] = "a 3-letter ISO 4217 code, e.g. USD"
        currency = currency.upper()
    order_id = _text(raw, "order_id", errors)
    promo_code = _text(raw, "promo_code", errors)
    campaign_id = None
    if promo_code is not None:
        promo_code = promo_code.strip()
        campaign_id = promo_codes.get(promo_code.lower())
        if campaign_id is None:
            errors["promo_code"] = f"no campaign of this sponsor has the code {promo_code!r}"
    page_url = _text(raw, "page_url", errors)
    referrer = _text(raw, "referrer", errors)
    utm = raw.get("utm")
    if utm is not None and not (isinstance(utm, dict) and all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 64 and len(v) <= 500 for k, v in utm.items())):
        errors["utm"] = "an object of short texts"
    if errors:
        return None, [FieldError(index, name, message) for name, message in errors.items()]
    return ConversionEvent(event_id=event_id, type=kind, occurred_at=occurred_at, source=source, ip=ip, value=value,
                           currency=currency, order_id=order_id, promo_code=promo_code, campaign_id=campaign_id,
                           page_url=page_url, referrer=referrer, utm=utm or None), []


def promo_codes_of(session: Session, tenant_id: int, sponsor_id: int) -> dict[str, int]:
    """The sponsor's campaign promo codes, lower case -> campaign id."""
    rows = session.execute(select(func.lower(Campaign.promo_code), Campaign.id).where(
        Campaign.tenant_id == tenant_id, Campaign.sponsor_id == sponsor_id, Campaign.promo_code.is_not(None)))
    return {code: campaign_id for code, campaign_id in rows}


def _insert_ignoring_existing(session: Session):
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(AttributionEventId).on_conflict_do_nothing(index_elements=["sponsor_id", "event_id"])


def store_events(session: Session, tenant_id: int, sponsor_id: int, events: list[ConversionEvent],
                 classifier: SharedIpClassifier | None = None, hasher: HouseholdHasher | None = None
                 ) -> tuple[int, int]:
    """Store a sponsor's valid events in the caller's transaction: (accepted, duplicates). An event whose id the
    ledger already holds (or that came earlier in the same batch) is a duplicate and writes nothing."""
    if not events:
        return 0, 0
    first: dict[str, ConversionEvent] = {}
    for event in events:
        first.setdefault(event.event_id, event)
    now = datetime.now(timezone.utc)
    ledger = [{"sponsor_id": sponsor_id, "event_id": event_id, "tenant_id": tenant_id, "created_at": now}
              for event_id in first]
    new_ids: set[str] = set()
    for start in range(0, len(ledger), 500):
        stmt = _insert_ignoring_existing(session).values(ledger[start:start + 500]).returning(
            AttributionEventId.event_id)
        new_ids.update(session.execute(stmt).scalars())
    if new_ids:
        if classifier is None and any(first[i].ip for i in new_ids):
            classifier = default_classifier()
        hasher = hasher or HouseholdHasher(session)
        rows = []
        for event_id in new_ids:
            event = first[event_id]
            keys = hasher.keys(event.ip, event.occurred_at)
            rows.append({
                "ts": event.occurred_at, "sponsor_id": sponsor_id, "event_id": event.event_id, "tenant_id": tenant_id,
                "campaign_id": event.campaign_id, "source": event.source, "type": event.type,
                "household_key": keys.current, "household_key_prev": keys.previous,
                "ip_shared": bool(event.ip) and classifier.is_shared(event.ip), "value": event.value, "currency": event.currency,
                "order_id": event.order_id, "promo_code": event.promo_code, "page_url": event.page_url,
                "referrer": event.referrer, "utm": event.utm})
        session.execute(insert(AttributionEvent), rows)
    return len(new_ids), len(events) - len(new_ids)


def sponsor_in_scope(session: Session, ctx: TenantContext, sponsor_id: int) -> Sponsor:
    """The tenant's sponsor (a sponsor user: only their own); NotFound otherwise, as for ids of other tenants."""
    sponsor = session.scalar(select(Sponsor).where(Sponsor.id == sponsor_id, Sponsor.tenant_id == ctx.tenant_id))
    if sponsor is None or (ctx.is_sponsor and sponsor.id != ctx.sponsor_id):
        raise NotFound(f"no sponsor {sponsor_id}")
    return sponsor


def record_conversions(db: Database, ctx: TenantContext, sponsor_id: int, events, now: datetime | None = None,
                       classifier: SharedIpClassifier | None = None) -> BatchResult:
    """Server-to-server conversions: validate each event, store the valid ones (idempotently), report the rest.

    Raises ValidationError when `events` is not a list of at most MAX_BATCH, NotFound for a sponsor outside the
    context; a bad event does not stop the good ones of the batch."""
    require_role(ctx, "editor")
    if not isinstance(events, list):
        raise ValidationError("events must be a list of event objects", {"events": "a list of event objects"})
    if len(events) > MAX_BATCH:
        raise ValidationError(f"{len(events)} events: at most {MAX_BATCH} per request",
                              {"events": f"at most {MAX_BATCH} events per request (got {len(events)})"})
    now = now or datetime.now(timezone.utc)
    result = BatchResult()
    with db.session(ctx.tenant_id) as s:
        sponsor_in_scope(s, ctx, sponsor_id)
        codes = promo_codes_of(s, ctx.tenant_id, sponsor_id)
        valid = []
        for index, raw in enumerate(events):
            event, errors = validate_event(raw, index, now, codes, "s2s", S2S_FIELDS, require_ip=True)
            result.errors.extend(errors)
            if event is not None:
                valid.append(event)
        result.accepted, result.duplicates = store_events(s, ctx.tenant_id, sponsor_id, valid, classifier,
                                                          HouseholdHasher(s, now.date()))
        s.commit()
    logger.info("conversions recorded", extra={"sponsor_id": sponsor_id, "accepted": result.accepted,
                                               "duplicates": result.duplicates, "refused": len(result.errors)})
    return result
