"""Pixel calls and link clicks on their durable path: a record built on the request (raw IP included, as for prefix
hits), carried by the hit journal / Redis buffer / embedded writer of services.measurement.ingest with
`kind = "attribution"`, and stored here by the drain: resolved to a sponsor, validated, hashed, stored idempotently.
A pixel call refused at this point is counted in `attribution_rejections` by reason."""
from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.db import Database
from services.models import AttributionRejection, Campaign, Sponsor, TrackingLink
from services.sponsorship.attribution.households import HouseholdHasher
from services.sponsorship.attribution.inputs import ConversionEvent, store_events, validate_event
from services.sponsorship.attribution.shared_ips import SharedIpClassifier, default_classifier

logger = logging.getLogger(__name__)

RECORD_KIND = "attribution"
MAX_PARAM = 2000  # a query parameter longer than this is cut before it enters the buffer
UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# Which validation failure of a pixel call is counted under which reason.
REASONS = {"event_id": "bad_id", "type": "bad_type", "value": "bad_value", "currency": "bad_currency",
           "occurred_at": "bad_time", "ip": "bad_ip"}


def _cut(value: str | None, limit: int = MAX_PARAM) -> str | None:
    return value[:limit] if isinstance(value, str) and value != "" else None


def pixel_record(params: Mapping[str, str], ip: str, now: datetime | None = None) -> dict:
    """The buffered record of one pixel call `/px.gif?k=&e=&id=&v=&c=&o=&u=&r=&utm_*=` (nothing checked yet)."""
    utm = {name: value[:500] for name in UTM_PARAMS if (value := params.get(name))}
    return {"kind": RECORD_KIND, "src": "pixel", "uid": uuid.uuid4().hex,
            "ts": (now or datetime.now(timezone.utc)).isoformat(), "ip": ip,
            "k": _cut(params.get("k"), 64), "e": _cut(params.get("e"), 32), "id": _cut(params.get("id"), 200),
            "v": _cut(params.get("v"), 40), "c": _cut(params.get("c"), 8), "o": _cut(params.get("o"), 200),
            "u": _cut(params.get("u")), "r": _cut(params.get("r")), "utm": utm or None}


def click_record(code: str, ip: str, referrer: str | None, now: datetime | None = None) -> dict:
    """The buffered record of one tracking-link click; its uid is the event id."""
    return {"kind": RECORD_KIND, "src": "link", "uid": uuid.uuid4().hex,
            "ts": (now or datetime.now(timezone.utc)).isoformat(), "ip": ip, "l": code, "r": _cut(referrer)}


def store_records(db: Database, records: Iterable[dict], classifier: SharedIpClassifier | None = None,
                  now: datetime | None = None, arrived: set[tuple[int, int]] | None = None) -> int:
    """Store buffered pixel and click records (many tenants at once); returns the events newly stored, and adds to
    `arrived` each (tenant, sponsor) that got a new event. A replayed record stores nothing twice: pixel events are
    idempotent by (sponsor, id), clicks by their uid."""
    records = list(records)
    if not records:
        return 0
    now = now or datetime.now(timezone.utc)
    classifier = classifier or default_classifier()
    pixels = [r for r in records if r.get("src") == "pixel"]
    clicks = [r for r in records if r.get("src") == "link"]
    with db.session(system=True) as s:  # records arrive for many tenants at once
        by_sponsor: dict[tuple[int, int], list[ConversionEvent]] = defaultdict(list)
        rejected: Counter = Counter()
        _pixel_events(s, pixels, now, by_sponsor, rejected)
        _click_events(s, clicks, by_sponsor)
        hasher = HouseholdHasher(s, now.date())
        stored = 0
        for (tenant_id, sponsor_id), events in by_sponsor.items():
            new = store_events(s, tenant_id, sponsor_id, events, classifier, hasher)[0]
            stored += new
            if new and arrived is not None:
                arrived.add((tenant_id, sponsor_id))
        _count_rejections(s, rejected)
        s.commit()
    if rejected:
        logger.info("pixel calls rejected", extra={"rejected": sum(rejected.values())})
    return stored


def _pixel_events(s: Session, pixels: list[dict], now: datetime, by_sponsor: dict, rejected: Counter) -> None:
    keys = {r["k"] for r in pixels if r.get("k")}
    sponsors = dict(((key, (tenant, sid)) for key, tenant, sid in s.execute(
        select(Sponsor.pixel_key, Sponsor.tenant_id, Sponsor.id).where(Sponsor.pixel_key.in_(keys))))) if keys else {}
    for record in pixels:
        received = datetime.fromisoformat(record["ts"])
        owner = sponsors.get(record.get("k"))
        if owner is None:
            rejected[(0, 0, received.date(), "unknown_key")] += 1
            continue
        raw = {"event_id": record.get("id"), "type": record.get("e"), "occurred_at": record["ts"],
               "ip": record.get("ip"), "value": record.get("v"), "currency": record.get("c"),
               "order_id": _cut(record.get("o"), 128), "page_url": record.get("u"), "referrer": record.get("r"),
               "utm": record.get("utm")}
        event, errors = validate_event(raw, 0, now, {}, "pixel")
        if event is None:
            field = errors[0].field
            reason = "missing_id" if field == "event_id" and not record.get("id") else REASONS.get(field, "invalid")
            rejected[(owner[0], owner[1], received.date(), reason)] += 1
            continue
        by_sponsor[owner].append(event)


def _click_events(s: Session, clicks: list[dict], by_sponsor: dict) -> None:
    codes = {r["l"] for r in clicks if r.get("l")}
    if not codes:
        return
    links = {code: (tenant, sponsor, campaign) for code, tenant, sponsor, campaign in s.execute(
        select(TrackingLink.code, TrackingLink.tenant_id, Campaign.sponsor_id, Campaign.id)
        .join(Campaign, Campaign.id == TrackingLink.campaign_id).where(TrackingLink.code.in_(codes)))}
    for record in clicks:
        link = links.get(record.get("l"))
        if link is None:  # the link was deleted between the click and the drain
            logger.warning("click on a tracking link that no longer exists dropped")
            continue
        tenant_id, sponsor_id, campaign_id = link
        by_sponsor[(tenant_id, sponsor_id)].append(ConversionEvent(
            event_id=f"click:{record['uid']}", type="click", source="link",
            occurred_at=datetime.fromisoformat(record["ts"]).astimezone(timezone.utc), ip=record.get("ip"),
            campaign_id=campaign_id, referrer=record.get("r")))


def _count_rejections(s: Session, rejected: Counter) -> None:
    if not rejected:
        return
    module = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    rows = [{"tenant_id": t, "sponsor_id": sp, "day": day, "reason": reason, "count": n}
            for (t, sp, day, reason), n in rejected.items()]
    stmt = module.insert(AttributionRejection).values(rows)
    stmt = stmt.on_conflict_do_update(index_elements=["tenant_id", "sponsor_id", "day", "reason"],
                                      set_={"count": AttributionRejection.count + stmt.excluded.count})
    s.execute(stmt)


def rejection_counts(db: Database, tenant_id: int, sponsor_id: int) -> dict[str, int]:
    """The sponsor's rejected pixel calls by reason, all days summed (for the sponsor's pixel page)."""
    with db.session(tenant_id, worker=True) as s:
        rows = s.execute(select(AttributionRejection.reason, AttributionRejection.count).where(
            AttributionRejection.tenant_id == tenant_id, AttributionRejection.sponsor_id == sponsor_id))
        totals: Counter = Counter()
        for reason, count in rows:
            totals[reason] += count
    return dict(totals)


RECORD_STORES = {RECORD_KIND: store_records}  # storing only (jobs.attribution.RECORD_STORES also re-attributes)
