"""Deliveries on SQLite with a real local receiver (signatures verified by `standardwebhooks`): the workflow's
handler fans out once per endpoint and event, replies are handled by status, retries keep the webhook-id, the
endpoint is disabled after 5 days of failures (frozen clock), and the in-process sweep sends what is due."""
from __future__ import annotations

from datetime import timedelta
import pytest
from sqlalchemy import select, update

from jobs.webhooks import enqueue_deliveries, sweep_due_webhooks
from services.models import DomainEvent, WebhookDelivery, WebhookEndpoint
from services.models.base import utcnow
from services.notify.webhooks import deliveries, endpoints, on_event
from services.notify.webhooks.deliveries import SendOptions, attempt_delivery, create_deliveries
from tests.unit.webhooks.conftest import add_endpoint, fake_event, owner

OPTIONS = SendOptions(allow_private=True, timeout=5)


def _log(db, tenant_id, endpoint_id):
    return deliveries.list_deliveries(db, owner(tenant_id), endpoint_id)


def _endpoint(db, tenant_id, endpoint_id) -> WebhookEndpoint:
    with db.session(tenant_id) as s:
        return s.get(WebhookEndpoint, endpoint_id)


def _disabled_events(db, tenant_id) -> list[DomainEvent]:
    with db.session(tenant_id) as s:
        return list(s.scalars(select(DomainEvent).where(DomainEvent.type == "webhook.disabled")))


def test_on_event_reaches_matching_endpoints_of_the_events_tenant_once(wh_db, tenants, receivers):
    acme, globex = tenants["acme"], tenants["globex"]
    r_all, r_campaigns, r_imports, r_off, r_globex = (receivers() for _ in range(5))
    ep_all, r_all.secret = add_endpoint(wh_db, acme, r_all.url)
    _, r_campaigns.secret = add_endpoint(wh_db, acme, r_campaigns.url, ["campaign.created"])
    _, r_imports.secret = add_endpoint(wh_db, acme, r_imports.url, ["import.failed"])
    ep_off, r_off.secret = add_endpoint(wh_db, acme, r_off.url)
    endpoints.set_enabled(wh_db, owner(acme), ep_off, False)
    _, r_globex.secret = add_endpoint(wh_db, globex, r_globex.url)

    on_event(wh_db, fake_event(acme))
    on_event(wh_db, fake_event(acme))  # the dispatcher may run a handler twice

    assert [len(r.requests) for r in (r_all, r_campaigns, r_imports, r_off, r_globex)] == [1, 1, 0, 0, 0]
    assert r_all.requests[0].verified and r_all.requests[0].body["type"] == "campaign.created"
    assert r_all.requests[0].body["data"] == {"campaign_id": 5} and "timestamp" in r_all.requests[0].body
    (logged,) = _log(wh_db, acme, ep_all)
    assert logged.status == "succeeded" and logged.attempts == 1 and logged.response_status == 200
    assert logged.message_id == r_all.requests[0].message_id and logged.latency_ms is not None
    assert logged.response_excerpt == "ok"


def test_503_with_retry_after_retries_later_with_the_same_webhook_id(wh_db, tenants, receiver):
    endpoint_id, receiver.secret = add_endpoint(wh_db, tenants["acme"], receiver.url)
    receiver.fail_next(1, 503, {"Retry-After": "120"}, b"busy")
    on_event(wh_db, fake_event(tenants["acme"]))
    (first,) = _log(wh_db, tenants["acme"], endpoint_id)
    assert first.status == "pending" and first.response_status == 503 and first.response_excerpt == "busy"
    wait = (first.next_attempt_at.replace(tzinfo=None) - first.last_attempt_at.replace(tzinfo=None)).total_seconds()
    assert 119 <= wait <= 121
    now = utcnow()
    assert attempt_delivery(wh_db, tenants["acme"], first.id, OPTIONS, now=now).status == "skipped"  # not yet due
    later = now + timedelta(seconds=125)
    assert attempt_delivery(wh_db, tenants["acme"], first.id, OPTIONS, now=later).status == "succeeded"
    (done,) = _log(wh_db, tenants["acme"], endpoint_id)
    assert done.status == "succeeded" and done.attempts == 2
    assert [r.message_id for r in receiver.requests] == [first.message_id] * 2
    assert list(receiver.processed) == [first.message_id] and receiver.duplicates == 0


def test_429_honours_an_http_date_retry_after(wh_db, tenants, receiver):
    from email.utils import format_datetime

    endpoint_id, receiver.secret = add_endpoint(wh_db, tenants["acme"], receiver.url)
    receiver.fail_next(1, 429, {"Retry-After": format_datetime(utcnow() + timedelta(minutes=10), usegmt=True)})
    (delivery_id,) = create_deliveries(wh_db, fake_event(tenants["acme"]))
    result = attempt_delivery(wh_db, tenants["acme"], delivery_id, OPTIONS)
    assert result.status == "pending" and 590 <= result.retry_in <= 601


def test_500_without_retry_after_follows_the_schedule(wh_db, tenants, receiver):
    _, receiver.secret = add_endpoint(wh_db, tenants["acme"], receiver.url)
    receiver.fail_next(1, 500)
    (delivery_id,) = create_deliveries(wh_db, fake_event(tenants["acme"]))
    result = attempt_delivery(wh_db, tenants["acme"], delivery_id, OPTIONS)
    assert result.status == "pending" and 4.5 <= result.retry_in <= 5.5


def test_410_gone_disables_the_endpoint_and_records_webhook_disabled(wh_db, tenants, receiver):
    acme = tenants["acme"]
    endpoint_id, receiver.secret = add_endpoint(wh_db, acme, receiver.url)
    receiver.fail_next(1, 410)
    on_event(wh_db, fake_event(acme))
    row = _endpoint(wh_db, acme, endpoint_id)
    assert not row.enabled and "410" in row.disabled_reason
    (recorded,) = _disabled_events(wh_db, acme)
    assert recorded.payload["endpoint_id"] == endpoint_id and "410" in recorded.payload["reason"]
    assert _log(wh_db, acme, endpoint_id)[0].status == "failed"
    on_event(wh_db, fake_event(acme, event_id=102))
    assert len(receiver.requests) == 1 and len(_log(wh_db, acme, endpoint_id)) == 1


def test_receiver_down_is_logged_and_retried(wh_db, tenants, receiver):
    endpoint_id, receiver.secret = add_endpoint(wh_db, tenants["acme"], receiver.url)
    receiver.stop()
    on_event(wh_db, fake_event(tenants["acme"]))
    (logged,) = _log(wh_db, tenants["acme"], endpoint_id)
    assert logged.status == "pending" and logged.attempts == 1 and "Connection" in logged.error
    assert logged.response_status is None


def test_the_schedule_is_ten_attempts_then_the_delivery_fails(wh_db, tenants, receiver):
    _, receiver.secret = add_endpoint(wh_db, tenants["acme"], receiver.url)
    receiver.fail_next(20, 500)
    (delivery_id,) = create_deliveries(wh_db, fake_event(tenants["acme"]))
    now, waits = utcnow(), []
    for _ in range(10):
        result = attempt_delivery(wh_db, tenants["acme"], delivery_id, OPTIONS, now=now)
        if result.retry_in is None:
            break
        waits.append(result.retry_in)
        now += timedelta(seconds=result.retry_in + 1)
    assert result.status == "failed" and len(receiver.requests) == 10
    expected = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
    assert all(0.9 * e <= w <= 1.1 * e for w, e in zip(waits, expected, strict=True))


def test_endpoint_is_disabled_after_five_days_of_failures(wh_db, tenants, receiver):
    acme = tenants["acme"]
    endpoint_id, receiver.secret = add_endpoint(wh_db, acme, receiver.url)
    receiver.fail_next(50, 500)
    first = create_deliveries(wh_db, fake_event(acme, event_id=1))[0]
    t0 = utcnow() + timedelta(seconds=1)
    attempt_delivery(wh_db, acme, first, OPTIONS, now=t0)
    second = create_deliveries(wh_db, fake_event(acme, event_id=2))[0]
    assert attempt_delivery(wh_db, acme, second, OPTIONS, now=t0 + timedelta(days=4, hours=23)).status == "pending"
    assert _endpoint(wh_db, acme, endpoint_id).enabled and not _disabled_events(wh_db, acme)
    result = attempt_delivery(wh_db, acme, first, OPTIONS, now=t0 + timedelta(days=5, seconds=1))
    row = _endpoint(wh_db, acme, endpoint_id)
    assert result.status == "failed" and not row.enabled and row.disabled_reason == "failing for 5 days"
    (recorded,) = _disabled_events(wh_db, acme)
    assert recorded.payload["endpoint_id"] == endpoint_id and recorded.payload["failing_since"].startswith(
        t0.isoformat()[:19])
    requests = len(receiver.requests)
    assert attempt_delivery(wh_db, acme, second, OPTIONS, now=t0 + timedelta(days=6)).status == "failed"
    assert len(receiver.requests) == requests  # a disabled endpoint is not called
    assert len(_disabled_events(wh_db, acme)) == 1


def test_a_success_ends_the_failing_streak(wh_db, tenants, receiver):
    acme = tenants["acme"]
    endpoint_id, receiver.secret = add_endpoint(wh_db, acme, receiver.url)
    receiver.verify = False  # the frozen clock's timestamps are days ahead
    t0 = utcnow() + timedelta(seconds=1)
    for n, (day, ok) in enumerate([(0, False), (1, True), (4, False), (6, False)], start=1):
        if not ok:
            receiver.fail_next(1, 500)
        (delivery_id,) = create_deliveries(wh_db, fake_event(acme, event_id=n))
        attempt_delivery(wh_db, acme, delivery_id, OPTIONS, now=t0 + timedelta(days=day))
    row = _endpoint(wh_db, acme, endpoint_id)
    assert row.enabled and row.failing_since.replace(tzinfo=None) == (t0 + timedelta(days=4)).replace(tzinfo=None)


def test_replay_resends_the_same_webhook_id_and_the_receiver_dedupes(wh_db, tenants, receiver):
    acme = tenants["acme"]
    endpoint_id, receiver.secret = add_endpoint(wh_db, acme, receiver.url)
    on_event(wh_db, fake_event(acme))
    (delivered,) = _log(wh_db, acme, endpoint_id)
    enqueue_deliveries(acme, [deliveries.replay_delivery(wh_db, owner(acme), delivered.id)])
    (replayed,) = _log(wh_db, acme, endpoint_id)
    assert replayed.status == "succeeded" and replayed.message_id == delivered.message_id
    assert [r.message_id for r in receiver.requests] == [delivered.message_id] * 2
    assert len(receiver.processed) == 1 and receiver.duplicates == 1


def test_send_test_event(wh_db, tenants, receiver):
    endpoint_id, receiver.secret = add_endpoint(wh_db, tenants["acme"], receiver.url)
    delivery_id = deliveries.create_test_delivery(wh_db, owner(tenants["acme"]), endpoint_id)
    enqueue_deliveries(tenants["acme"], [delivery_id])
    (received,) = receiver.requests
    assert received.verified and received.body["type"] == "webhook.test"
    assert _log(wh_db, tenants["acme"], endpoint_id)[0].status == "succeeded"


def test_rotation_signs_with_both_secrets_for_24_hours(wh_db, tenants, receiver):
    acme = tenants["acme"]
    endpoint_id, old = add_endpoint(wh_db, acme, receiver.url)
    new = endpoints.rotate_secret(wh_db, owner(acme), endpoint_id)
    receiver.secret = old
    on_event(wh_db, fake_event(acme, event_id=1))
    receiver.secret = new
    on_event(wh_db, fake_event(acme, event_id=2))
    assert [r.verified for r in receiver.requests] == [True, True]
    assert len(receiver.requests[0].headers["webhook-signature"].split(" ")) == 2
    row = _endpoint(wh_db, acme, endpoint_id)
    assert endpoints.signing_secrets(row, utcnow() + timedelta(hours=25)) == [new]
    assert endpoints.get_endpoint(wh_db, owner(acme), endpoint_id).rotating_until is not None


def test_the_address_is_checked_again_at_send_time(wh_db, tenants, receiver):
    endpoint_id, receiver.secret = add_endpoint(wh_db, tenants["acme"], receiver.url)
    (delivery_id,) = create_deliveries(wh_db, fake_event(tenants["acme"]))
    result = attempt_delivery(wh_db, tenants["acme"], delivery_id, SendOptions(allow_private=False, timeout=5))
    assert result.status == "pending" and receiver.requests == []
    assert "loopback" in _log(wh_db, tenants["acme"], endpoint_id)[0].error


def test_the_sweep_sends_due_deliveries_in_process(wh_db, tenants, receiver):
    acme = tenants["acme"]
    endpoint_id, receiver.secret = add_endpoint(wh_db, acme, receiver.url)
    receiver.fail_next(1, 503)
    on_event(wh_db, fake_event(acme))
    assert sweep_due_webhooks() == 0  # the retry is ~5 s away
    with wh_db.session(acme) as s:
        s.execute(update(WebhookDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    assert sweep_due_webhooks() == 1
    (logged,) = _log(wh_db, acme, endpoint_id)
    assert logged.status == "succeeded" and logged.attempts == 2 and len(receiver.processed) == 1


def test_create_refuses_a_loopback_url_unless_allowed(wh_db, tenants):
    from services.errors import ValidationError

    with pytest.raises(ValidationError) as refused:
        endpoints.create_endpoint(wh_db, owner(tenants["acme"]), {"url": "http://localhost:8080/in"},
                                  allow_private=False)
    assert "loopback" in refused.value.fields["url"]
    assert endpoints.list_endpoints(wh_db, owner(tenants["acme"])) == []


def test_a_reply_lost_to_the_timeout_is_retried_with_the_same_webhook_id(wh_db, tenants, receiver):
    acme = tenants["acme"]
    endpoint_id, receiver.secret = add_endpoint(wh_db, acme, receiver.url)
    receiver.stall_next = 1  # the receiver handles the first request but answers after the sender gave up
    quick = SendOptions(allow_private=True, timeout=0.5)
    (delivery_id,) = create_deliveries(wh_db, fake_event(acme))
    now = utcnow()
    first = attempt_delivery(wh_db, acme, delivery_id, quick, now=now)
    assert first.status == "pending" and "timed out" in _log(wh_db, acme, endpoint_id)[0].error
    assert attempt_delivery(wh_db, acme, delivery_id, quick, now=now + timedelta(seconds=6)).status == "succeeded"
    (logged,) = _log(wh_db, acme, endpoint_id)
    assert logged.status == "succeeded" and logged.attempts == 2
    assert [r.message_id for r in receiver.requests] == [logged.message_id] * 2
    assert len(receiver.processed) == 1 and receiver.duplicates == 1  # the receiver's dedupe caught the retry
