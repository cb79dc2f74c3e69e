"""The dispatcher: at least once, idempotent by event id (run twice -> one effect), retries with backoff, parking
after repeated failure and replay; the after-commit trigger; the events page's service (owners and admins)."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.errors import Conflict, NotFound, PermissionDenied
from services.events import dispatch, outbox
from services.models import DomainEvent, EventHandling, Notification
from services.models.base import utcnow
from services.sponsorship import campaigns
from tests.unit.notify.people import campaign_form
from tests.unit.notify.people import quiet_trigger


def _record(db, tenant_id, type_="thing.happened", payload=None) -> int:
    with db.session(tenant_id) as s:
        event_id = outbox.record(s, tenant_id, type_, payload or {}).id
        s.commit()
    return event_id


def _event(db, event_id) -> DomainEvent:
    with db.session(system=True) as s:
        return s.get(DomainEvent, event_id)


def _notifications(db, event_id) -> dict[int, int]:
    with db.session(system=True) as s:
        return dict(s.execute(select(Notification.user_id, func.count()).where(Notification.event_id == event_id)
                              .group_by(Notification.user_id)).all())


def _run_all(db, now=None, **kwargs) -> int:
    return dispatch.dispatch_due(db, lambda event_id: dispatch.handle_event(db, event_id, now, **kwargs), now)


def test_campaign_created_notifies_the_team_once_however_often_it_is_handled(db, people, fakes):
    quiet_trigger(db)
    created = campaigns.create_campaign(db, people.ctx("editor"), campaign_form(people.sponsors["Northwind Coffee"]))
    with db.session(system=True) as s:
        event_id = s.scalar(select(DomainEvent.id).where(DomainEvent.type == "campaign.created"))
    assert _event(db, event_id).payload == {"campaign_id": created.id, "name": "Morning Ritual",
                                            "sponsor_id": people.sponsors["Northwind Coffee"]}

    assert _run_all(db) >= 1
    assert _event(db, event_id).status == "done"
    # The team (with the top shows) and the campaign's sponsor's user (told shows are being chosen); not the other
    # sponsor's user, nor the viewer.
    team = {people.ids["owner"], people.ids["admin"], people.ids["editor"], people.ids["coffee"]}
    assert _notifications(db, event_id) == {user_id: 1 for user_id in team}

    # The same event handed out again (a retried job), and again after a worker died before settling it.
    assert dispatch.handle_event(db, event_id) is None
    with db.session(system=True) as s:
        s.get(DomainEvent, event_id).status = "pending"
        s.commit()
    assert dispatch.handle_event(db, event_id) == "done"
    assert _notifications(db, event_id) == {user_id: 1 for user_id in team}
    assert fakes.calls[("matchmaking", event_id)] == 1 and fakes.calls[("fan_out", event_id)] == 1


def test_a_chain_waits_for_its_failed_step_while_the_other_chain_goes_on(db, people):
    from tests.unit.events import fake_handlers as fh
    fh.reset()
    quiet_trigger(db)
    event_id = _record(db, people.tenant_id)
    chains = [("a", "b"), ("c",)]
    handlers = {name: fh.make(name) for name in "abc"}
    fh.failures["a"] = 1
    now = utcnow()

    assert dispatch.handle_event(db, event_id, now, chains, handlers) == "pending"
    assert (fh.calls[("a", event_id)], fh.calls[("b", event_id)], fh.calls[("c", event_id)]) == (1, 0, 1)
    assert "a: RuntimeError: a is down" in _event(db, event_id).error

    assert dispatch.handle_event(db, event_id, now, chains, handlers) == "done"
    assert (fh.calls[("a", event_id)], fh.calls[("b", event_id)], fh.calls[("c", event_id)]) == (2, 1, 1)


def test_a_failing_handler_is_retried_with_backoff_then_parked_and_replayed(db, people):
    from tests.unit.events import fake_handlers as fh
    fh.reset()
    quiet_trigger(db)
    event_id = _record(db, people.tenant_id)
    options = {"chains": [("flaky",)], "handlers": {"flaky": fh.make("flaky")}}
    fh.failures["flaky"] = 99
    now = utcnow()
    with db.session(system=True) as s:  # only this event is due in this test
        s.query(DomainEvent).filter(DomainEvent.id != event_id).update({"status": "done"})
        s.commit()

    assert _run_all(db, now, **options) == 1
    assert _event(db, event_id).attempts == 1
    assert dispatch.claim_due(db, now + timedelta(seconds=10)) == []  # backing off
    for round_ in range(2, dispatch.MAX_ATTEMPTS + 1):
        now += timedelta(seconds=dispatch.RETRY_DELAYS[min(round_ - 1, 4)] + 1)
        assert _run_all(db, now, **options) == 1
    parked = _event(db, event_id)
    assert parked.status == "parked" and "flaky: RuntimeError: flaky is down" in parked.error
    with db.session(system=True) as s:
        ledger = s.get(EventHandling, (event_id, "flaky"))
        assert (ledger.status, ledger.attempts) == ("parked", dispatch.MAX_ATTEMPTS)
    assert dispatch.claim_due(db, now + timedelta(days=1)) == []  # parked stays parked
    assert fh.calls[("flaky", event_id)] == dispatch.MAX_ATTEMPTS

    with pytest.raises(PermissionDenied):
        dispatch.replay(db, people.ctx("editor"), event_id)
    with pytest.raises(NotFound):
        dispatch.replay(db, people.ctx("acme"), event_id)
    fh.failures["flaky"] = 0
    dispatch.replay(db, people.ctx("admin"), event_id)
    assert _run_all(db, now, **options) == 1
    assert _event(db, event_id).status == "done"
    assert fh.calls[("flaky", event_id)] == dispatch.MAX_ATTEMPTS + 1
    with pytest.raises(Conflict, match="only a parked event"):
        dispatch.replay(db, people.ctx("owner"), event_id)


def test_a_claimed_event_whose_worker_died_is_handed_out_again_after_its_lease(db, people):
    quiet_trigger(db)
    event_id = _record(db, people.tenant_id)
    now = utcnow()
    assert event_id in dispatch.claim_due(db, now)  # claimed, then the worker died
    assert event_id not in dispatch.claim_due(db, now + timedelta(seconds=60))
    assert event_id in dispatch.claim_due(db, now + timedelta(seconds=dispatch.RETRY_DELAYS[0] + 1))


def test_a_commit_that_records_events_runs_the_workflow_in_process(db, people, fakes):
    created = campaigns.create_campaign(db, people.ctx("editor"), campaign_form(people.sponsors["Lumen VPN"], "Fast"))
    with db.session(system=True) as s:
        event = s.scalar(select(DomainEvent).where(DomainEvent.type == "campaign.created"))
    assert event.payload["campaign_id"] == created.id and event.status == "done"
    assert people.ids["editor"] in _notifications(db, event.id)


def test_a_rolled_back_change_dispatches_nothing(db, people):
    seen = []
    outbox.set_trigger(db.engine, seen.extend)
    with db.session(people.tenant_id) as s:
        outbox.record(s, people.tenant_id, "thing.happened")
        s.rollback()
        s.commit()
    assert seen == []
    _record(db, people.tenant_id)
    assert [topic for topic, _ in seen] == ["event"]


def test_the_events_page_lists_owner_and_admin_only_and_never_another_tenants(db, people):
    quiet_trigger(db)
    mine = _record(db, people.tenant_id, "campaign.created", {"campaign_id": 1})
    theirs = _record(db, people.other_tenant_id, "campaign.created", {"campaign_id": 2})
    ids = [e.id for e in dispatch.list_events(db, people.ctx("admin"), type_prefix="campaign.")]
    assert mine in ids and theirs not in ids
    assert [e.id for e in dispatch.list_events(db, people.ctx("acme"))] == [theirs]
    assert [e.id for e in dispatch.list_events(db, people.ctx("owner"), status="pending",
                                               type_prefix="campaign.")] == [mine]
    for who in ("editor", "viewer", "coffee"):
        with pytest.raises(PermissionDenied):
            dispatch.list_events(db, people.ctx(who))


def test_a_step_whose_module_is_missing_fails_and_its_chain_waits(db, people):
    from tests.unit.events import fake_handlers as fh
    fh.reset()
    quiet_trigger(db)
    event_id = _record(db, people.tenant_id)
    handlers = {"absent": "services.not_deployed:on_event", "next": fh.make("next")}
    assert dispatch.handle_event(db, event_id, chains=[("absent", "next")], handlers=handlers) != "done"
    assert fh.calls.get(("next", event_id), 0) == 0
    with db.session(system=True) as s:
        handling = s.get(EventHandling, (event_id, "absent"))
        assert handling.status == "failed" and "services.not_deployed" in handling.error
