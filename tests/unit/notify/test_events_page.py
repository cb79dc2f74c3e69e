"""The events page: owners and admins list events and replay a parked one; editors, viewers, sponsor users and
another tenant cannot."""
import json

from sqlalchemy import select

from services.events import dispatch, outbox
from services.models import DomainEvent
from tests.dash_client import call_callback
from tests.unit.notify.people import login, quiet_trigger
from tests.unit.notify.people import fakes_fixture, people_fixture  # noqa: F401 (fixtures)

OUTPUTS = [("events-table", "children"), ("events-emails", "children"), ("events-message", "children")]


def _call(client, replay=(), status="", type_prefix=None, changed=None):
    replay_inputs = [({"type": "events-replay", "index": i}, "n_clicks", clicks) for i, clicks in replay]
    return call_callback(client, OUTPUTS, [("events-status", "value", status), ("events-type", "value", type_prefix),
                                           replay_inputs], changed=changed or ["events-status.value"])


def _parked(db, tenant_id, type_="campaign.created") -> int:
    with db.session(tenant_id) as s:
        row = outbox.record(s, tenant_id, type_, {"campaign_id": 1})
        row.status, row.error = "parked", "webhooks.fan_out: RuntimeError: receiver down"
        s.commit()
        return row.id


def test_an_admin_sees_the_parked_event_with_its_error_and_replays_it(app, db, people):
    quiet_trigger(db)
    event_id = _parked(db, people.tenant_id)
    other = _parked(db, people.other_tenant_id)
    client = login(app, "admin@demo.test")
    status, out = _call(client, status="parked")
    shown = json.dumps(out["events-table"]["children"])
    assert status == 200 and "receiver down" in shown and "Replay" in shown

    replay_id = json.dumps({"index": event_id, "type": "events-replay"}, separators=(",", ":")) + ".n_clicks"
    status, out = _call(client, replay=[(event_id, 1)], changed=[replay_id])
    assert status == 200 and f"Event {event_id} replayed" in json.dumps(out["events-message"])
    with db.session(system=True) as s:
        assert s.get(DomainEvent, event_id).status == "pending"
        assert s.get(DomainEvent, other).status == "parked"

    # Another tenant's event id through this tenant's page: not found, nothing changes.
    status, out = _call(client, replay=[(other, 1)],
                        changed=[replay_id.replace(str(event_id), str(other))])
    assert status == 200 and "no event" in json.dumps(out["events-message"])
    with db.session(system=True) as s:
        assert s.get(DomainEvent, other).status == "parked"


def test_editors_viewers_and_sponsor_users_get_a_message_not_events(app, db, people):
    quiet_trigger(db)
    _parked(db, people.tenant_id)
    for email in ("editor@demo.test", "viewer@demo.test", "coffee@demo.test"):
        status, out = _call(login(app, email))
        assert status == 200 and out["events-table"]["children"] is None
        assert "may not do this" in json.dumps(out["events-message"])


def test_another_tenants_owner_sees_only_their_events(app, db, people):
    quiet_trigger(db)
    mine = _parked(db, people.tenant_id)
    status, out = _call(login(app, "owner@acme.test"))
    assert status == 200 and f'"{mine}"' not in json.dumps(out["events-table"]["children"])
    with db.session(system=True) as s:
        assert s.scalar(select(DomainEvent.tenant_id).where(DomainEvent.id == mine)) == people.tenant_id
    assert dispatch.list_events(db, people.ctx("acme")) == []
