"""The dispatcher handling its claimed batch itself: each event once, whatever the threads; past its time budget the
rest of the batch is handed back, due again at once; a full claim asks for another dispatch first."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from services.events import dispatch, outbox
from services.models import DomainEvent, Notification
from services.models.base import utcnow
from tests.unit.notify.people import quiet_trigger


def _alert(db, tenant_id, user_id, n) -> int:
    with db.session(tenant_id) as s:
        event_id = outbox.record(s, tenant_id, "alert.triggered", {
            "title": f"Alert {n}", "channels": ["in_app"], "user_ids": [user_id]}).id
        s.commit()
    return event_id


def _quiet(db) -> None:
    """No trigger, and the demo data's own events out of the way: the test runs the dispatcher on its events."""
    quiet_trigger(db)
    with db.session(system=True) as s:
        s.execute(update(DomainEvent).values(status="done"))
        s.commit()


def _notified(db) -> dict[int, list[int]]:
    """event id -> the users notified of it (one entry per notification row)."""
    seen: dict[int, list[int]] = {}
    with db.session(system=True) as s:
        for event_id, user_id in s.execute(select(Notification.event_id, Notification.user_id)):
            seen.setdefault(event_id, []).append(user_id)
    return seen


@pytest.mark.parametrize("threads", [1, 3])
def test_a_batch_is_handled_here_each_event_once_for_its_own_tenant(db, people, threads):
    _quiet(db)
    ours = [_alert(db, people.tenant_id, people.ids["owner"], n) for n in range(5)]
    theirs = [_alert(db, people.other_tenant_id, people.ids["acme"], n) for n in range(2)]
    asked = []

    assert dispatch.handle_due(db, limit=10, more=lambda: asked.append(1), threads=threads) == 7

    assert asked == []  # a claim short of the limit: nothing more is due
    notified = _notified(db)
    assert {e: notified.get(e) for e in ours} == {e: [people.ids["owner"]] for e in ours}
    assert {e: notified.get(e) for e in theirs} == {e: [people.ids["acme"]] for e in theirs}
    with db.session(system=True) as s:
        assert s.scalar(select(func.count()).where(DomainEvent.status != "done")) == 0
    assert dispatch.handle_due(db, limit=10, threads=threads) == 0  # nothing is handled twice
    assert _notified(db) == notified


def test_a_full_claim_asks_for_another_dispatch_and_the_budget_hands_the_rest_back(db, people):
    _quiet(db)
    first, *rest = [_alert(db, people.tenant_id, people.ids["owner"], n) for n in range(3)]
    asked = []

    assert dispatch.handle_due(db, limit=3, more=lambda: asked.append(1), budget=0) == 1

    assert len(asked) == 2  # once for the full claim, once for the events handed back
    assert list(_notified(db)) == [first]
    with db.session(system=True) as s:
        back = s.execute(select(DomainEvent.id, DomainEvent.status, DomainEvent.dispatched_at)
                         .where(DomainEvent.id.in_(rest))).all()
    assert [(status, at) for _, status, at in back] == [("pending", None)] * 2
    assert dispatch.claim_due(db, utcnow()) == rest  # due again at once, not after the 5-minute lease


def test_handing_back_leaves_events_another_claim_or_handling_moved_on(db, people):
    _quiet(db)
    event_id = _alert(db, people.tenant_id, people.ids["owner"], 0)
    claimed_at = utcnow() - timedelta(minutes=10)
    assert dispatch.claim_due(db, claimed_at) == [event_id]
    assert dispatch.claim_due(db, utcnow()) == [event_id]  # the lease ran out: a second claim took it over
    assert dispatch.release(db, [event_id], claimed_at) == 0  # the first claim's hand-back does not undo it
    assert dispatch.claim_due(db, utcnow()) == []
