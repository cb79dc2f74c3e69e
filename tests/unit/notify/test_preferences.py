"""Preferences: per user, per event kind and channel, on by default; the workflow honours them."""
import json

import pytest
from sqlalchemy import select

from services.errors import ValidationError
from services.events import outbox
from services.models import EmailMessage
from services.notify import inapp, preferences
from tests.dash_client import call_callback
from tests.unit.notify.people import login
from tests.unit.notify.people import fakes_fixture, people_fixture  # noqa: F401 (fixtures)


def _alert(db, tenant_id, title):
    with db.session(tenant_id) as s:
        outbox.record(s, tenant_id, "alert.triggered", {"title": title, "channels": ["in_app", "email"]})
        s.commit()


def test_everything_is_on_until_turned_off(db, people):
    chosen = preferences.get_preferences(db, people.ctx("admin"))
    assert set(chosen.values()) == {True} and ("alert.triggered", "email") in chosen


def test_turning_a_channel_off_stops_it_for_that_user_only(db, people, fakes):
    everything_but = [(k, c) for (k, c) in preferences.get_preferences(db, people.ctx("admin"))
                      if (k, c) != ("alert.triggered", "email")]
    saved = preferences.save_preferences(db, people.ctx("admin"), everything_but)
    assert saved[("alert.triggered", "email")] is False and saved[("alert.triggered", "in_app")] is True
    preferences.save_preferences(db, people.ctx("owner"), [])  # the owner turns everything off

    _alert(db, people.tenant_id, "Spike")
    with db.session(system=True) as s:
        emailed = s.scalars(select(EmailMessage.to_address).where(EmailMessage.subject == "Spike")).all()
    assert emailed == []
    assert [n.title for n in inapp.list_notifications(db, people.ctx("admin"))] == ["Spike"]
    assert inapp.list_notifications(db, people.ctx("owner")) == []
    # Another tenant's owner keeps their defaults.
    assert set(preferences.get_preferences(db, people.ctx("acme")).values()) == {True}


def test_an_unknown_kind_or_channel_is_refused(db, people):
    with pytest.raises(ValidationError) as caught:
        preferences.save_preferences(db, people.ctx("admin"), [("alert.triggered", "sms")])
    assert "channel" in caught.value.fields
    with pytest.raises(ValidationError) as caught:
        preferences.save_preferences(db, people.ctx("admin"), [("nothing.here", "email")])
    assert "kind" in caught.value.fields


def test_the_notifications_page_saves_preferences(app, db, people):
    client = login(app, "coffee@demo.test")
    status, out = call_callback(client, [("notifications-pref-saved", "children")],
                                [("notifications-pref-save", "n_clicks", 1)],
                                [("notifications-pref-in-app", "value", ["campaign.status_changed"]),
                                 ("notifications-pref-email", "value", [])],
                                changed=["notifications-pref-save.n_clicks"])
    assert status == 200 and "Preferences saved" in json.dumps(out)
    chosen = preferences.get_preferences(db, people.ctx("coffee"))
    assert chosen[("campaign.status_changed", "in_app")] and not chosen[("campaign.status_changed", "email")]
    status, out = call_callback(client, [("notifications-pref-in-app", "value"), ("notifications-pref-email", "value"),
                                         ("notifications-pref-message", "children")],
                                [("notifications-prefs", "id", "notifications-prefs")])
    assert status == 200
    assert out["notifications-pref-in-app"]["value"] == ["campaign.status_changed"]
    assert out["notifications-pref-email"]["value"] == []
