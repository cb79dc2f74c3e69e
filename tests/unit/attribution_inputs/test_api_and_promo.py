"""POST /api/v1/sponsors/<id>/conversions: 200 when all taken, 422 naming index and field (the good ones stored),
problem documents for a bad body, 404 for another tenant's sponsor, 403 for a read-only key; pixel_key in the
sponsor records; the promo-code CSV is all or nothing with line numbers and counts nothing twice."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from services.errors import ValidationError
from services.models import AttributionEvent, AttributionEventId
from services.sponsorship.attribution import promo_csv


def _events(n, prefix="e", **extra):
    at = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    return [{"event_id": f"{prefix}{i}", "type": "signup", "occurred_at": at, "ip": f"198.51.100.{i + 1}",
             "user_agent": "Mozilla/5.0", **extra} for i in range(n)]


def _count(db, demo, model=AttributionEvent):
    with db.session(demo.tenant_id) as s:
        return s.scalar(select(func.count()).select_from(model).where(model.sponsor_id == demo.sponsor_id))


def test_conversions_all_taken_then_duplicates(client, db, demo_sponsor, write_key):
    url = f"/api/v1/sponsors/{demo_sponsor.sponsor_id}/conversions"
    response = client.post(url, json={"events": _events(3)}, headers=write_key)
    assert response.status_code == 200 and response.get_json() == {"accepted": 3, "duplicates": 0, "errors": []}
    response = client.post(url, json={"events": _events(4)}, headers=write_key)
    assert response.status_code == 200 and response.get_json() == {"accepted": 1, "duplicates": 3, "errors": []}
    assert _count(db, demo_sponsor) == 4


def test_a_mixed_batch_answers_422_and_stores_the_good_events(client, db, demo_sponsor, write_key):
    events = _events(3)
    events[1]["type"] = "bought"
    response = client.post(f"/api/v1/sponsors/{demo_sponsor.sponsor_id}/conversions", json={"events": events},
                           headers=write_key)
    body = response.get_json()
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert body["accepted"] == 2 and body["errors"] == [{"index": 1, "field": "type", "message": body["errors"][0]["message"]}]
    assert _count(db, demo_sponsor) == 2


def test_bad_bodies_are_problem_documents(client, db, demo_sponsor, write_key):
    url = f"/api/v1/sponsors/{demo_sponsor.sponsor_id}/conversions"
    response = client.post(url, data="{not json", headers={**write_key, "Content-Type": "application/json"})
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    response = client.post(url, json={"events": _events(1001)}, headers=write_key)
    assert response.status_code == 422 and "1000" in response.get_json()["errors"]["events"]
    response = client.post(url, json={"evnts": []}, headers=write_key)
    assert response.status_code == 422 and "events" in response.get_json()["errors"]
    assert _count(db, demo_sponsor) == 0


def test_another_tenants_key_gets_404_and_a_read_key_403(client, db, demo_sponsor, other_tenant_key, read_key):
    url = f"/api/v1/sponsors/{demo_sponsor.sponsor_id}/conversions"
    response = client.post(url, json={"events": _events(2)}, headers=other_tenant_key)
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert client.post(url, json={"events": _events(2)}, headers=read_key).status_code == 403
    assert _count(db, demo_sponsor) == 0 and _count(db, demo_sponsor, AttributionEventId) == 0


def test_sponsor_records_carry_the_pixel_key(client, demo_sponsor, read_key, other_tenant_key):
    listed = client.get("/api/v1/sponsors", headers=read_key).get_json()["data"]
    assert {s["id"]: s["pixel_key"] for s in listed}[demo_sponsor.sponsor_id] == demo_sponsor.pixel_key
    one = client.get(f"/api/v1/sponsors/{demo_sponsor.sponsor_id}", headers=read_key)
    assert one.status_code == 200 and one.get_json()["pixel_key"] == demo_sponsor.pixel_key
    assert len(demo_sponsor.pixel_key) == 32
    assert client.get(f"/api/v1/sponsors/{demo_sponsor.sponsor_id}", headers=other_tenant_key).status_code == 404


def _csv(code, rows):
    return "code,occurred_at,order_id,value\n" + "".join(f"{code},{at},{order},{value}\n" for at, order, value in rows)


def test_promo_csv_stores_purchases_once(db, demo_sponsor):
    day = (datetime.now(timezone.utc) - timedelta(days=2)).date().isoformat()
    text = _csv(demo_sponsor.promo_code.lower(), [(day, "A-1", "30.00"), (f"{day}T10:00:00Z", "A-2", "12.5")])
    result = promo_csv.import_promo_csv(db, demo_sponsor.ctx(), demo_sponsor.sponsor_id, text)
    assert (result.accepted, result.duplicates) == (2, 0)
    again = promo_csv.import_promo_csv(db, demo_sponsor.ctx(), demo_sponsor.sponsor_id, text)
    assert (again.accepted, again.duplicates) == (0, 2)
    with db.session(demo_sponsor.tenant_id) as s:
        events = s.execute(select(AttributionEvent).where(AttributionEvent.sponsor_id == demo_sponsor.sponsor_id)
                           ).scalars().all()
    assert {(e.event_id, e.type, e.source, e.campaign_id) for e in events} == {
        ("A-1", "purchase", "promo_csv", demo_sponsor.campaign_id),
        ("A-2", "purchase", "promo_csv", demo_sponsor.campaign_id)}


def test_promo_csv_with_a_bad_row_writes_nothing_and_names_line_and_field(db, demo_sponsor):
    day = (datetime.now(timezone.utc) - timedelta(days=2)).date().isoformat()
    code = demo_sponsor.promo_code
    text = (_csv(code, [(day, "B-1", "10")]) + f"NOSUCH,{day},B-2,10\n" + f"{code},{day},B-3,-4\n"
            + f"{code},someday,,10\n")
    with pytest.raises(ValidationError) as err:
        promo_csv.import_promo_csv(db, demo_sponsor.ctx(), demo_sponsor.sponsor_id, text)
    assert {(e.line, e.field) for e in err.value.rows} == {(3, "code"), (4, "value"), (5, "occurred_at"),
                                                           (5, "order_id")}
    assert _count(db, demo_sponsor) == 0 and _count(db, demo_sponsor, AttributionEventId) == 0
