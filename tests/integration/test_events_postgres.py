"""Integration: domain events on PostgreSQL, Redis and a real RQ worker. A recorded campaign.created is dispatched on
the `notify` queue and becomes an in-app notification (and an email); a worker that dies mid-dispatch loses nothing
and nothing is done twice; a handler that keeps failing is parked, then replayed; the new tables are walled per
tenant by row-level security."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import ProgrammingError

from jobs.events import dispatch_events, handle_event
from jobs.queues import enqueue, get_queue
from services import accounts
from services.events import dispatch, outbox
from services.models import DomainEvent, EmailMessage, EventHandling, Notification, NotificationPreference
from services.notify import inapp
from services.sponsorship import campaigns, sponsors
from tests.integration.workers import burst_worker

NEW_TABLES = ("notifications", "notification_preferences", "email_log")


@pytest.fixture
def network(pg_jobs):
    """Two tenants on PostgreSQL: alpha with an owner, an editor and a sponsor; beta with an owner."""
    settings, db = pg_jobs
    alpha = accounts.create_tenant(db, "alpha", "Alpha")
    beta = accounts.create_tenant(db, "beta", "Beta")
    users = {}
    for who, (email, slug, role) in {"owner": ("owner@alpha.test", "alpha", "owner"),
                                     "editor": ("editor@alpha.test", "alpha", "editor"),
                                     "beta": ("owner@beta.test", "beta", "owner")}.items():
        users[who] = accounts.create_user(db, email, slug, role, password="password-123")[0].id
    contexts = {who: accounts.resolve_context(db, user_id) for who, user_id in users.items()}
    sponsor = sponsors.create_sponsor(db, contexts["owner"], {"name": "Northwind Coffee"})
    return settings, db, alpha.id, beta.id, users, contexts, sponsor.id


def _superuser(settings):
    return psycopg.connect(settings.database_url.replace("+psycopg", ""), autocommit=True)


def _notifications(db, event_id) -> dict[int, int]:
    with db.session(system=True) as s:
        return dict(s.execute(select(Notification.user_id, func.count()).where(Notification.event_id == event_id)
                              .group_by(Notification.user_id)).all())


def _event(db, event_id) -> DomainEvent:
    with db.session(system=True) as s:
        return s.get(DomainEvent, event_id)


def _expire_lease(db, event_id) -> None:
    """As if the lease or backoff ran out: the event is due again."""
    with db.session(system=True) as s:
        s.execute(update(DomainEvent).where(DomainEvent.id == event_id)
                  .values(dispatched_at=func.now() - text("interval '1 hour'")))
        s.commit()


def _alert(db, tenant_id, title="Downloads dropped") -> int:
    with db.session(tenant_id) as s:
        event_id = outbox.record(s, tenant_id, "alert.triggered", {"title": title, "channels": ["in_app"]}).id
        s.commit()  # the after-commit trigger enqueues the dispatcher on Redis
    return event_id


def test_campaign_created_is_dispatched_on_the_worker_into_a_notification_and_an_email(network):
    settings, db, alpha, _beta, users, contexts, sponsor_id = network
    created = campaigns.create_campaign(db, contexts["editor"], {
        "sponsor_id": sponsor_id, "name": "Morning Ritual", "start_date": "2026-06-01", "end_date": "2026-06-30",
        "pricing": "cpm", "cpm": "25"})
    with db.session(alpha) as s:
        event_id = s.scalar(select(DomainEvent.id).where(DomainEvent.type == "campaign.created"))
    assert _event(db, event_id).status == "pending"
    assert get_queue("notify", settings).count >= 1  # the commit enqueued the dispatcher

    burst_worker(settings, "notify")

    assert _event(db, event_id).status == "done"
    assert _notifications(db, event_id) == {users["owner"]: 1, users["editor"]: 1}
    [note] = inapp.list_notifications(db, contexts["editor"])
    assert note.title == "Recommendations ready for Morning Ritual" and note.link == f"/campaigns/{created.id}#recommendations"
    with db.session(system=True) as s:
        ledger = dict(s.execute(select(EventHandling.handler, EventHandling.status)
                                .where(EventHandling.event_id == event_id)).all())
        emails = s.execute(select(EmailMessage.to_address, EmailMessage.status)).all()
    assert ledger == {"matchmaking.recommend": "done", "notify.recommendations_ready": "done",
                      "webhooks.fan_out": "done"}
    assert sorted(emails) == [("editor@alpha.test", "written"), ("owner@alpha.test", "written")]
    assert len(list((settings.instance_path / "outbox").glob("*.eml"))) == 2


def test_a_worker_that_dies_mid_dispatch_loses_nothing_and_does_nothing_twice(network):
    settings, db, alpha, _beta, users, _contexts, _sponsor = network
    event_id = _alert(db, alpha)
    assert event_id in dispatch.claim_due(db)  # a dispatcher claimed it, then died before handing it out
    burst_worker(settings, "notify")  # the dispatcher the commit enqueued finds it leased: not handed out twice
    assert _event(db, event_id).status == "pending" and _notifications(db, event_id) == {}

    # Another worker is mid-way through the event (it holds its row): a second handling skips it.
    with db.session(system=True) as held:
        held.scalar(select(DomainEvent).where(DomainEvent.id == event_id).with_for_update(key_share=True))
        job = enqueue(handle_event, event_id, queue="notify", settings=settings)
        burst_worker(settings, "notify")
        assert get_queue("notify", settings).fetch_job(job.id).return_value() is None
        held.rollback()  # ... and dies
    assert _notifications(db, event_id) == {}

    _expire_lease(db, event_id)  # the lease runs out: the sweep hands it out again
    enqueue(dispatch_events, queue="notify", settings=settings)
    burst_worker(settings, "notify")
    assert _event(db, event_id).status == "done"
    assert _notifications(db, event_id) == {users["owner"]: 1}

    for _ in range(2):  # a retried job, and a sweep after the lease: no second effect
        enqueue(handle_event, event_id, queue="notify", settings=settings)
        _expire_lease(db, event_id)
        enqueue(dispatch_events, queue="notify", settings=settings)
        burst_worker(settings, "notify")
    assert _notifications(db, event_id) == {users["owner"]: 1}
    with db.session(system=True) as s:
        assert s.get(EventHandling, (event_id, "notify.alert")).attempts == 1


def test_a_handler_that_keeps_failing_is_parked_then_replayed(network):
    settings, db, alpha, _beta, users, contexts, _sponsor = network
    with _superuser(settings) as conn:  # an outage: the worker role (handlers run as it) may not write notifications
        conn.execute("REVOKE INSERT ON notifications FROM podcast_worker")
    event_id = _alert(db, alpha)
    for _ in range(dispatch.MAX_ATTEMPTS):
        burst_worker(settings, "notify")
        _expire_lease(db, event_id)
        enqueue(dispatch_events, queue="notify", settings=settings)
    parked = _event(db, event_id)
    assert parked.status == "parked" and "notify.alert" in parked.error and "permission denied" in parked.error
    with db.session(system=True) as s:
        ledger = s.get(EventHandling, (event_id, "notify.alert"))
        assert (ledger.status, ledger.attempts) == ("parked", dispatch.MAX_ATTEMPTS)
    burst_worker(settings, "notify")  # a parked event is not retried by the sweep
    assert _event(db, event_id).status == "parked"

    with _superuser(settings) as conn:  # the outage is over
        conn.execute("GRANT INSERT ON notifications TO podcast_worker")
    [row] = [e for e in dispatch.list_events(db, contexts["owner"], status="parked")]
    assert row.id == event_id and "permission denied" in row.error
    dispatch.replay(db, contexts["owner"], event_id)  # its commit enqueues the dispatcher
    burst_worker(settings, "notify")
    assert _event(db, event_id).status == "done"
    assert _notifications(db, event_id) == {users["owner"]: 1}


def test_the_new_tables_have_a_forced_tenant_policy_and_are_walled(network):
    settings, db, alpha, beta, users, contexts, _sponsor = network
    with _superuser(settings) as conn:
        for table in NEW_TABLES:
            forced = conn.execute("SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE relname = %s",
                                  (table,)).fetchone()[0]
            policies = conn.execute("SELECT count(*) FROM pg_policies WHERE tablename = %s", (table,)).fetchone()[0]
            assert forced and policies == 1, table
    with db.session(alpha) as s:
        s.add(Notification(tenant_id=alpha, user_id=users["owner"], kind="x.y", title="Alpha only"))
        s.add(NotificationPreference(tenant_id=alpha, user_id=users["owner"], kind="alert.triggered",
                                     channel="email", enabled=False))
        s.add(EmailMessage(tenant_id=alpha, to_address="owner@alpha.test", subject="Alpha", text_body="t",
                           html_body="<p>t</p>", status="queued", attempts=0))
        s.commit()
    for scope in ({"tenant_id": beta}, {}):  # another tenant, or none: nothing, even without a WHERE
        with db.session(**scope) as s:
            assert all(s.execute(text(f"SELECT count(*) FROM {t}")).scalar() == 0 for t in NEW_TABLES)
    with db.session(alpha) as s:
        assert all(s.execute(text(f"SELECT count(*) FROM {t}")).scalar() == 1 for t in NEW_TABLES)
    with db.session(beta) as s:
        s.add(Notification(tenant_id=alpha, user_id=users["owner"], kind="x.y", title="Smuggled"))
        with pytest.raises(ProgrammingError, match="row-level security"):
            s.commit()
    with db.session(beta) as s:
        assert s.execute(text("UPDATE notifications SET read_at = now()")).rowcount == 0
    assert inapp.list_notifications(db, contexts["beta"]) == []
    assert inapp.unread_count(db, contexts["owner"]) == 1
    assert dispatch.list_events(db, contexts["beta"]) == []


def test_two_dispatchers_claim_disjoint_events(network):
    settings, db, alpha, _beta, _users, _contexts, _sponsor = network
    first, second = _alert(db, alpha, "one"), _alert(db, alpha, "two")
    with db.session(system=True) as other:  # another dispatcher, mid-claim: it holds the first event's row
        other.scalar(select(DomainEvent).where(DomainEvent.id == first).with_for_update())
        claimed = dispatch.claim_due(db)
        other.rollback()
    assert second in claimed and first not in claimed
    assert first in dispatch.claim_due(db) and dispatch.claim_due(db) == []
