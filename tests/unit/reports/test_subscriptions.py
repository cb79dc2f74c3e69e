"""Report subscriptions on SQLite: a user subscribes only themselves; nobody else (another user, another tenant's)
sees, edits or deletes them; a sponsor user subscribes only to their own sponsor's campaigns; bad input is named by
its field and nothing is written."""
from __future__ import annotations

import pytest

from services.errors import NotFound, PermissionDenied, ValidationError
from services.notify.reports import subscriptions as subs
from services.tenancy import TenantContext
from tests.unit.reports.conftest import WEEKLY_NETWORK, campaign_of, first_show


def test_a_user_lists_edits_and_deletes_only_their_own_subscriptions(db, people):
    owner, admin = people.ctx("owner"), people.ctx("admin")
    mine = subs.create_subscription(db, owner, WEEKLY_NETWORK)
    show = first_show(db, people.tenant_id)
    theirs = subs.create_subscription(db, admin, {"kind": "show", "target_id": show, "frequency": "monthly",
                                                  "day": 31, "hour": 6})
    assert [s.id for s in subs.list_subscriptions(db, owner)] == [mine.id]
    assert [s.id for s in subs.list_subscriptions(db, admin)] == [theirs.id]
    assert mine.title == "Network report: Demo Network" and "Monday at 07:00" in mine.schedule
    with pytest.raises(NotFound):
        subs.update_subscription(db, owner, theirs.id, WEEKLY_NETWORK)
    with pytest.raises(NotFound):
        subs.delete_subscription(db, owner, theirs.id)
    with pytest.raises(NotFound):
        subs.list_runs(db, owner, theirs.id)
    edited = subs.update_subscription(db, owner, mine.id, {**WEEKLY_NETWORK, "day": 5, "hour": 18})
    assert (edited.day, edited.hour) == (5, 18)
    subs.delete_subscription(db, owner, mine.id)
    assert subs.list_subscriptions(db, owner) == []
    assert [s.id for s in subs.list_subscriptions(db, admin)] == [theirs.id]


def test_another_tenant_neither_sees_nor_changes_nor_targets_the_demo_network(db, people):
    owner, acme = people.ctx("owner"), people.ctx("acme")
    mine = subs.create_subscription(db, owner, WEEKLY_NETWORK)
    assert subs.list_subscriptions(db, acme) == []
    for call in (lambda: subs.get_subscription(db, acme, mine.id),
                 lambda: subs.update_subscription(db, acme, mine.id, WEEKLY_NETWORK),
                 lambda: subs.delete_subscription(db, acme, mine.id)):
        with pytest.raises(NotFound):
            call()
    # The demo network's show is not a target in Acme.
    with pytest.raises(ValidationError) as err:
        subs.create_subscription(db, acme, {"kind": "show", "target_id": first_show(db, people.tenant_id),
                                            "frequency": "weekly", "day": 1, "hour": 8})
    assert "target_id" in err.value.fields
    assert subs.get_subscription(db, owner, mine.id).id == mine.id


def test_a_sponsor_user_subscribes_only_to_their_own_sponsors_campaigns(db, people):
    coffee = people.ctx("coffee")
    own = campaign_of(db, people.tenant_id, people.sponsors["Northwind Coffee"])
    other = campaign_of(db, people.tenant_id, people.sponsors["Lumen VPN"])
    choices = dict(subs.target_choices(db, coffee, "campaign"))
    assert own in choices and other not in choices
    assert subs.target_choices(db, coffee, "show") == [] and subs.kind_choices(coffee) == [
        ("campaign", "Campaign report")]
    with pytest.raises(ValidationError) as err:
        subs.create_subscription(db, coffee, {"kind": "campaign", "target_id": other, "frequency": "weekly",
                                              "day": 1, "hour": 8})
    assert err.value.fields == {"target_id": f"no campaign {other}"}
    with pytest.raises(ValidationError) as err:
        subs.create_subscription(db, coffee, WEEKLY_NETWORK)
    assert "kind" in err.value.fields
    created = subs.create_subscription(db, coffee, {"kind": "campaign", "target_id": own, "frequency": "weekly",
                                                    "day": 2, "hour": 9})
    assert created.target == choices[own].rsplit(" (", 1)[0]  # the campaign's name
    vpn = people.ctx("vpn")
    assert subs.list_subscriptions(db, vpn) == []
    with pytest.raises(NotFound):
        subs.delete_subscription(db, vpn, created.id)
    assert [s.id for s in subs.list_subscriptions(db, coffee)] == [created.id]


def test_bad_input_names_each_field_and_writes_nothing(db, people):
    owner = people.ctx("owner")
    with pytest.raises(ValidationError) as err:
        subs.create_subscription(db, owner, {"kind": "weather", "frequency": "daily", "day": "x", "hour": 24})
    assert set(err.value.fields) == {"kind", "frequency", "day", "hour"}
    with pytest.raises(ValidationError) as err:
        subs.create_subscription(db, owner, {"kind": "show", "frequency": "weekly", "day": 8, "hour": 0})
    assert set(err.value.fields) == {"day", "target_id"}
    assert subs.list_subscriptions(db, owner) == []


def test_a_context_without_a_user_cannot_subscribe(db, people):
    key_ctx = TenantContext(tenant_id=people.tenant_id, role="admin")  # an API key's context
    with pytest.raises(PermissionDenied):
        subs.create_subscription(db, key_ctx, WEEKLY_NETWORK)
