"""In-app notifications: the workflow's handlers reach the right people, the bell counts unread ones, mark as read
(one and all); another tenant, another user and a sponsor user of another sponsor never see them."""
import json

import pytest
from sqlalchemy import select

from services.errors import NotFound
from services.events import outbox
from services.models import EmailMessage, Notification
from services.notify import inapp
from services.notify.messages import Message, notify
from services.notify.recipients import named
from services.sponsorship import campaigns
from tests.dash_client import call_callback
from tests.unit.notify.people import campaign_form, login
from tests.unit.notify.people import fakes_fixture, people_fixture  # noqa: F401 (fixtures)

BELL = [("shell-bell-count", "children"), ("shell-bell-count", "className")]


def _bell(client) -> str:
    status, out = call_callback(client, BELL, [("shell-url", "pathname", "/"), ("shell-bell-poll", "n_intervals", 1)],
                                changed=["shell-url.pathname"])
    assert status == 200
    return out["shell-bell-count"]["children"]


def _record(db, tenant_id, type_, payload) -> int:
    with db.session(tenant_id) as s:
        event_id = outbox.record(s, tenant_id, type_, payload).id
        s.commit()  # the workflow runs in-process after this commit (embedded mode)
    return event_id


def _tell(db, people, who: str, n: int) -> None:
    for i in range(n):
        notify(db, people.tenant_id, lambda s: named(s, people.tenant_id, [people.ids[who]]),
               Message("alert.triggered", f"Note {i}"), channels=("in_app",))


def test_a_campaign_going_live_reaches_its_sponsors_users_only(db, people, fakes):
    editor = people.ctx("editor")
    created = campaigns.create_campaign(db, editor, campaign_form(people.sponsors["Northwind Coffee"]))
    for status in ("proposed", "approved", "live"):
        campaigns.change_campaign_status(db, editor, created.id, status)
    [live] = [n for n in inapp.list_notifications(db, people.ctx("coffee")) if n.kind == "campaign.status_changed"]
    assert live.title == "Morning Ritual is live" and live.link == f"/campaigns/{created.id}"
    assert inapp.list_notifications(db, people.ctx("vpn")) == []
    for who in ("owner", "admin", "editor"):  # staff hear of the new campaign, not of the sponsor's go-live
        kinds = {n.kind for n in inapp.list_notifications(db, people.ctx(who))}
        assert kinds == {"campaign.created"}
    with db.session(system=True) as s:
        assert s.scalar(select(Notification.sponsor_id).where(Notification.id == live.id)) == \
            people.sponsors["Northwind Coffee"]
        emailed = s.scalars(select(EmailMessage.to_address)).all()
    assert "coffee@demo.test" in emailed and "vpn@demo.test" not in emailed


def test_the_bell_counts_unread_and_mark_read_one_and_all(app, db, people):
    _tell(db, people, "owner", 3)
    client = login(app, "admin@demo.test")
    owner = people.ctx("owner")
    assert inapp.unread_count(db, owner) == 3 and inapp.unread_count(db, people.ctx("admin")) == 0
    assert _bell(client) == ""
    _tell(db, people, "admin", 2)
    assert _bell(client) == "2"

    first = inapp.list_notifications(db, owner)[0]
    inapp.mark_read(db, owner, first.id)
    inapp.mark_read(db, owner, first.id)  # twice is once
    assert inapp.unread_count(db, owner) == 2
    assert [n.id for n in inapp.list_notifications(db, owner, unread_only=True)] != [first.id]
    assert inapp.mark_all_read(db, owner) == 2 and inapp.unread_count(db, owner) == 0

    status, out = call_callback(client, [("notifications-list", "children"), ("notifications-message", "children")],
                                [("notifications-mark-all", "n_clicks", 1), []],
                                changed=["notifications-mark-all.n_clicks"])
    assert status == 200 and "Note 1" in json.dumps(out["notifications-list"]["children"])
    assert _bell(client) == ""


def test_another_user_tenant_or_sponsor_never_sees_or_marks_them(db, people, fakes):
    _tell(db, people, "owner", 1)
    [mine] = inapp.list_notifications(db, people.ctx("owner"))
    for who in ("admin", "acme", "coffee"):
        assert inapp.list_notifications(db, people.ctx(who)) == []
        with pytest.raises(NotFound):
            inapp.mark_read(db, people.ctx(who), mine.id)
        assert inapp.mark_all_read(db, people.ctx(who)) == 0
    assert inapp.unread_count(db, people.ctx("owner")) == 1

    # A notification filed for the coffee user under another sponsor stays hidden from them.
    with db.session(people.tenant_id) as s:
        s.add(Notification(tenant_id=people.tenant_id, user_id=people.ids["coffee"],
                           sponsor_id=people.sponsors["Lumen VPN"], kind="x.y", title="Not yours"))
        s.commit()
    assert inapp.unread_count(db, people.ctx("coffee")) == 0
    # The same user's notifications of another tenant do not show in this one either.
    _record(db, people.other_tenant_id, "alert.triggered", {"title": "Acme alert", "channels": ["in_app"]})
    assert [n.title for n in inapp.list_notifications(db, people.ctx("acme"))] == ["Acme alert"]
    assert all(n.title != "Acme alert" for n in inapp.list_notifications(db, people.ctx("owner")))


def test_alert_and_pacing_events_reach_whom_their_payload_names(db, people, fakes):
    _record(db, people.tenant_id, "alert.triggered",
            {"title": "Downloads dropped", "channels": ["email"], "user_ids": [people.ids["viewer"], people.ids["acme"]]})
    _record(db, people.tenant_id, "delivery.under_pacing",
            {"campaign_id": 1, "name": "Spring", "delivered": 100, "expected": 400, "shortfall": 300,
             "makegoods": "add a mid-roll on Daily Brew"})
    _record(db, people.tenant_id, "webhook.disabled", {"url": "https://hooks.example.com/x"})
    with db.session(system=True) as s:
        emails = s.execute(select(EmailMessage.to_address, EmailMessage.subject)).all()
    assert ("viewer@demo.test", "Downloads dropped") in emails
    assert all(to != "owner@acme.test" for to, _ in emails)
    assert [to for to, subject in emails if subject == "A webhook endpoint was disabled"] == ["demo@example.com"]
    assert inapp.list_notifications(db, people.ctx("viewer")) == []  # that alert asked for email only
    [pacing] = inapp.list_notifications(db, people.ctx("editor"))
    assert pacing.title == "Spring is behind pacing" and "add a mid-roll on Daily Brew" in pacing.body
