"""Conversion inputs: each bad field is named with its index, the same event id counts once (in one batch and
across batches, whatever its timestamp), a mixed batch stores its good events, promo codes find their campaign."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from services.errors import NotFound, PermissionDenied, ValidationError
from services.models import AttributionEvent, AttributionEventId
from services.sponsorship.attribution import inputs
from services.sponsorship.attribution.shared_ips import SharedIpClassifier

NOW = datetime(2026, 6, 15, 12, tzinfo=timezone.utc)
NO_SHARED = SharedIpClassifier(lambda ip: "Residential Broadband")


def _event(event_id="ord-1", **extra):
    return {"event_id": event_id, "type": "purchase", "occurred_at": "2026-06-15T10:00:00Z", "ip": "198.51.100.7",
            "user_agent": "Mozilla/5.0", "value": "19.90", "currency": "usd", **extra}


def _record(db, demo, events):
    return inputs.record_conversions(db, demo.ctx(), demo.sponsor_id, events, now=NOW, classifier=NO_SHARED)


def _stored(db, demo):
    with db.session(demo.tenant_id) as s:
        return s.execute(select(AttributionEvent).where(AttributionEvent.sponsor_id == demo.sponsor_id)
                         .order_by(AttributionEvent.event_id)).scalars().all()


def test_each_bad_field_is_named_with_the_index_of_its_event(db, demo_sponsor):
    result = _record(db, demo_sponsor, [
        _event("ok-1"),
        _event("bad-1", type="purchased", value=-1),
        _event("bad-2", occurred_at="2026-06-17T12:00:01Z", currency="US", ip="999.1.1.1"),
        _event("x" * 129, occurred_at=(NOW - timedelta(days=401)).isoformat()),
        _event("bad-4", occurred_at="yesterday", value="abc", promo_code="NOPE99", surprise=1),
        "not an object",
    ])
    got = {(e.index, e.field) for e in result.errors}
    assert got == {(1, "type"), (1, "value"), (2, "occurred_at"), (2, "currency"), (2, "ip"), (3, "event_id"),
                   (3, "occurred_at"), (4, "occurred_at"), (4, "value"), (4, "promo_code"), (4, "surprise"),
                   (5, "event")}
    assert "future" in next(e.message for e in result.errors if (e.index, e.field) == (2, "occurred_at"))
    assert "400 days" in next(e.message for e in result.errors if (e.index, e.field) == (3, "occurred_at"))
    # The mixed batch stored its one good event.
    assert result.accepted == 1 and result.duplicates == 0
    stored = _stored(db, demo_sponsor)
    assert [e.event_id for e in stored] == ["ok-1"]
    assert stored[0].value == Decimal("19.90") and stored[0].currency == "USD" and stored[0].source == "s2s"


def test_same_event_id_counts_once_in_a_batch_and_across_batches(db, demo_sponsor):
    first = _record(db, demo_sponsor, [_event("ord-1"), _event("ord-2"), _event("ord-1", value="5")])
    assert (first.accepted, first.duplicates, first.errors) == (2, 1, [])
    # A retry with another timestamp: still the same event.
    again = _record(db, demo_sponsor, [_event("ord-1", occurred_at="2026-06-14T09:00:00+02:00"), _event("ord-3")])
    assert (again.accepted, again.duplicates) == (1, 1)
    stored = _stored(db, demo_sponsor)
    assert [e.event_id for e in stored] == ["ord-1", "ord-2", "ord-3"]
    assert stored[0].value == Decimal("19.90")  # the first delivery's values stay
    with db.session(demo_sponsor.tenant_id) as s:
        assert s.scalar(select(func.count()).select_from(AttributionEventId).where(
            AttributionEventId.sponsor_id == demo_sponsor.sponsor_id)) == 3


def test_naive_time_is_utc_and_promo_code_matches_case_insensitively(db, demo_sponsor):
    result = _record(db, demo_sponsor, [_event("p-1", occurred_at="2026-06-15T08:30:00",
                                               promo_code=demo_sponsor.promo_code.lower())])
    assert result.accepted == 1, result.errors
    event = _stored(db, demo_sponsor)[0]
    assert event.campaign_id == demo_sponsor.campaign_id
    assert event.ts.replace(tzinfo=timezone.utc) == datetime(2026, 6, 15, 8, 30, tzinfo=timezone.utc)
    assert len(event.household_key) == 32 and len(event.household_key_prev) == 32
    assert event.household_key != event.household_key_prev and event.ip_shared is False


def test_shared_addresses_are_kept_but_flagged(db, demo_sponsor):
    carrier = SharedIpClassifier(lambda ip: "T-MOBILE-AS21928" if ip.startswith("172.56.") else "Comcast")
    inputs.record_conversions(db, demo_sponsor.ctx(), demo_sponsor.sponsor_id,
                              [_event("m-1", ip="172.56.1.1"), _event("h-1", ip="24.5.6.7")], now=NOW,
                              classifier=carrier)
    assert {e.event_id: e.ip_shared for e in _stored(db, demo_sponsor)} == {"h-1": False, "m-1": True}


def test_batch_limits_scope_and_role(db, demo_sponsor):
    with pytest.raises(ValidationError) as err:
        _record(db, demo_sponsor, [_event(str(i)) for i in range(1001)])
    assert "events" in err.value.fields
    with pytest.raises(ValidationError):
        _record(db, demo_sponsor, {"event_id": "x"})
    with pytest.raises(NotFound):
        inputs.record_conversions(db, demo_sponsor.ctx(), 999_999, [_event()], now=NOW, classifier=NO_SHARED)
    with pytest.raises(PermissionDenied):
        inputs.record_conversions(db, demo_sponsor.ctx("viewer"), demo_sponsor.sponsor_id, [_event()], now=NOW,
                                  classifier=NO_SHARED)
    assert _stored(db, demo_sponsor) == []
