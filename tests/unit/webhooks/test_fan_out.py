"""The webhooks step of an event's handling: the first attempts are made right there, on deliveries created already
claimed (no other worker sends them meanwhile); deliveries past the inline limit go to the queue; a worker that dies
between creating and recording a claimed attempt leaves it to the sweep after its lease, with the same webhook-id."""
from __future__ import annotations

from datetime import timedelta

from jobs import webhooks as webhook_jobs
from services.models.base import utcnow
from services.notify.webhooks import deliveries
from services.notify.webhooks.deliveries import SendOptions, attempt_delivery, start_deliveries
from tests.unit.webhooks.conftest import add_endpoint, fake_event, owner

OPTIONS = SendOptions(allow_private=True, timeout=5)


def test_the_first_attempts_are_made_inline_and_the_rest_are_queued(wh_db, tenants, receivers, monkeypatch):
    acme, globex = tenants["acme"], tenants["globex"]
    first, second, third, other = (receivers() for _ in range(4))
    ids = {}
    for receiver in (first, second, third):
        ids[receiver.port], receiver.secret = add_endpoint(wh_db, acme, receiver.url)
    _, other.secret = add_endpoint(wh_db, globex, other.url)
    queued = []
    monkeypatch.setattr(webhook_jobs, "enqueue_deliveries", lambda tenant_id, found: queued.append((tenant_id, found)))

    assert webhook_jobs.fan_out(wh_db, fake_event(acme), inline=2) == 3

    assert [len(r.requests) for r in (first, second, third, other)] == [1, 1, 0, 0]
    assert first.requests[0].verified and second.requests[0].verified
    (waiting,) = deliveries.list_deliveries(wh_db, owner(acme), ids[third.port])
    assert queued == [(acme, [waiting.id])] and waiting.status == "pending" and waiting.attempts == 0
    for receiver in (first, second):
        (sent,) = deliveries.list_deliveries(wh_db, owner(acme), ids[receiver.port])
        assert (sent.status, sent.attempts, sent.message_id) == ("succeeded", 1, receiver.requests[0].message_id)

    queued.clear()
    assert webhook_jobs.fan_out(wh_db, fake_event(acme), inline=2) == 1  # the handler run again: only the waiting one
    assert queued == [(acme, [waiting.id])] and [len(r.requests) for r in (first, second)] == [1, 1]


def test_a_claimed_first_attempt_whose_worker_died_goes_to_the_sweep_after_its_lease(wh_db, tenants, receiver):
    acme = tenants["acme"]
    endpoint_id, receiver.secret = add_endpoint(wh_db, acme, receiver.url)
    event = fake_event(acme)
    before = utcnow()
    (claimed,), waiting = start_deliveries(wh_db, event, claim=1, timeout=5)  # ... and the worker dies here
    assert waiting == [] and claimed.headers["webhook-id"]

    assert attempt_delivery(wh_db, acme, claimed.delivery_id, OPTIONS).status == "skipped"  # held by its lease
    webhook_jobs.fan_out(wh_db, event)  # a rerun of the handler does not send it either
    assert receiver.requests == []
    assert (acme, claimed.delivery_id) not in deliveries.due_deliveries(wh_db, utcnow())
    lease_over = before + timedelta(seconds=5) + deliveries.LEASE_EXTRA + timedelta(seconds=2)
    assert (acme, claimed.delivery_id) in deliveries.due_deliveries(wh_db, lease_over)

    assert attempt_delivery(wh_db, acme, claimed.delivery_id, OPTIONS, now=lease_over).status == "succeeded"
    (logged,) = deliveries.list_deliveries(wh_db, owner(acme), endpoint_id)
    assert [r.message_id for r in receiver.requests] == [claimed.headers["webhook-id"]] == [logged.message_id]
    assert (logged.status, logged.attempts) == ("succeeded", 1)


def test_another_tenants_event_neither_creates_nor_claims_deliveries_for_an_endpoint(wh_db, tenants, receiver):
    endpoint_id, receiver.secret = add_endpoint(wh_db, tenants["acme"], receiver.url)
    claimed, waiting = start_deliveries(wh_db, fake_event(tenants["globex"]), claim=5)
    assert (claimed, waiting) == ([], [])
    assert deliveries.list_deliveries(wh_db, owner(tenants["acme"]), endpoint_id) == []
    assert receiver.requests == []
