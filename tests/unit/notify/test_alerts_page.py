"""The alerts page's callbacks on the demo app: an editor creates, mutes and deletes rules; a viewer reads but cannot
change; a sponsor user gets nothing; another tenant's user never sees, changes or evaluates the demo's rules."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from components.alerts import RULE_FIELDS
from services import accounts
from services.models import Podcast, Sponsor
from services.notify import alert_evaluation, alerts
from services.tenancy import TenantContext
from tests.dash_client import call_callback

PASSWORD = "password-123"
OUTPUTS = [("alerts-table", "children"), ("alerts-message", "children"), ("alerts-form-box", "style"),
           ("alerts-field-recipients", "options"), ("alerts-editing", "data"), ("alerts-form-title", "children"),
           *[(f"alerts-field-{name}", "value") for name in RULE_FIELDS],
           *[(f"alerts-error-{name}", "children") for name in RULE_FIELDS]]
BUTTONS = ("alerts-edit", "alerts-mute", "alerts-unmute", "alerts-delete")


def _pattern(kind: str, rule_ids=(), clicked=None) -> list:
    return [({"type": kind, "index": i}, "n_clicks", 1 if i == clicked else None) for i in rule_ids]


def _changed(kind: str, rule_id: int) -> str:
    return json.dumps({"index": rule_id, "type": kind}, separators=(",", ":")) + ".n_clicks"


def _view(client, save=None, values=None, action=None, rule_ids=(), editing=None):
    """Call the page's main callback; `action` is (kind, rule id) for an Edit/Mute/Unmute/Delete click."""
    values = values or {}
    kind, clicked = action or (None, None)
    inputs = [("alerts-url", "pathname", "/alerts"), ("alerts-save", "n_clicks", save),
              ("alerts-cancel", "n_clicks", None),
              *[_pattern(k, rule_ids, clicked if k == kind else None) for k in BUTTONS]]
    state = [("alerts-editing", "data", editing), *[(f"alerts-field-{name}", "value", values.get(name))
                                                    for name in RULE_FIELDS]]
    changed = ["alerts-save.n_clicks"] if save else [_changed(kind, clicked)] if action else ["alerts-url.pathname"]
    status, out = call_callback(client, OUTPUTS, inputs, state, changed)
    assert status == 200
    return out


def _text(out, key) -> str:
    return json.dumps(out[key])


@pytest.fixture
def world(app, db):
    demo = accounts.get_tenant_by_slug(db, "demo")
    with db.session(demo.id) as s:
        podcast_id = s.scalar(select(Podcast.id).where(Podcast.tenant_id == demo.id).order_by(Podcast.id))
        sponsor_id = s.scalar(select(Sponsor.id).where(Sponsor.tenant_id == demo.id).order_by(Sponsor.id))
    accounts.create_user(db, "editor@demo.test", "demo", "editor", password=PASSWORD)
    accounts.create_user(db, "viewer@demo.test", "demo", "viewer", password=PASSWORD)
    accounts.create_user(db, "sponsor@demo.test", "demo", "sponsor", password=PASSWORD, sponsor_id=sponsor_id)
    other = accounts.create_tenant(db, "acme", "Acme")
    accounts.create_user(db, "admin@acme.test", "acme", "admin", password=PASSWORD)
    rule = alerts.create_rule(db, TenantContext(demo.id, "owner"), {
        "name": "Demo show below a million", "metric": "show_downloads", "target_id": podcast_id,
        "condition": "below", "threshold": 1_000_000})
    return {"demo": demo.id, "other": other.id, "podcast_id": podcast_id, "rule": rule.id}


def _login(app, email):
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    return client


def test_editor_creates_mutes_and_deletes(app, db, world):
    client = _login(app, "editor@demo.test")
    out = _view(client)
    assert "Demo show below a million" in _text(out, "alerts-table") and out["alerts-form-box"]["style"] == {}
    out = _view(client, save=1, values={"name": "Launch", "metric": "episode_launch", "condition": "below",
                                        "threshold": "50"})
    assert "choose the episode" in _text(out, "alerts-error-target_id")
    out = _view(client, save=1, values={"name": "Feeds failing", "metric": "feed_errors", "condition": "above",
                                        "threshold": "0", "channels": ["email"]})
    assert "Saved" in _text(out, "alerts-message") and "Feeds failing" in _text(out, "alerts-table")
    ids = [r.id for r in alerts.list_rules(db, TenantContext(world["demo"], "viewer"))]
    out = _view(client, action=("alerts-edit", world["rule"]), rule_ids=ids)
    assert out["alerts-editing"]["data"] == world["rule"] and "Edit" in _text(out, "alerts-form-title")
    values = {name: out[f"alerts-field-{name}"]["value"] for name in RULE_FIELDS}
    assert (values["metric"], values["target_id"], values["threshold"]) == ("show_downloads", world["podcast_id"],
                                                                            1_000_000)
    out = _view(client, save=1, values={**values, "threshold": "500"}, editing=world["rule"])
    assert "Saved" in _text(out, "alerts-message") and out["alerts-editing"]["data"] is None
    assert alerts.get_rule(db, TenantContext(world["demo"], "viewer"), world["rule"]).threshold == 500
    out = _view(client, action=("alerts-mute", world["rule"]), rule_ids=ids)
    assert "muted for 24 hours" in _text(out, "alerts-message") and "Muted until" in _text(out, "alerts-table")
    out = _view(client, action=("alerts-delete", world["rule"]), rule_ids=ids)
    assert "Rule deleted" in _text(out, "alerts-message")
    assert [r.name for r in alerts.list_rules(db, TenantContext(world["demo"], "viewer"))] == ["Feeds failing"]


def test_viewer_reads_but_cannot_change(app, db, world):
    client = _login(app, "viewer@demo.test")
    out = _view(client)
    assert "Demo show below a million" in _text(out, "alerts-table")
    assert out["alerts-form-box"]["style"] == {"display": "none"} and "alerts-delete" not in _text(out, "alerts-table")
    out = _view(client, save=1, values={"name": "Mine", "metric": "feed_errors", "condition": "above",
                                        "threshold": "0"})
    assert "may not do this" in _text(out, "alerts-message")
    out = _view(client, action=("alerts-delete", world["rule"]), rule_ids=[world["rule"]])
    assert "may not do this" in _text(out, "alerts-message")
    assert len(alerts.list_rules(db, TenantContext(world["demo"], "owner"))) == 1


def test_sponsor_user_gets_no_rules(app, world):
    client = _login(app, "sponsor@demo.test")
    out = _view(client)
    assert out["alerts-table"]["children"] is None and "sponsor users" in _text(out, "alerts-message")
    assert out["alerts-form-box"]["style"] == {"display": "none"}
    status, history = call_callback(client, [("alerts-history", "children")],
                                    [[], ("alerts-url", "search", f"?rule={world['rule']}")], [],
                                    ["alerts-url.search"])
    assert status == 200 and "History" not in json.dumps(history)


def test_another_tenants_admin_never_sees_changes_or_triggers_the_demo_rule(app, db, world):
    client = _login(app, "admin@acme.test")
    out = _view(client)
    assert "No alert rules yet" in _text(out, "alerts-table") and "Demo show" not in _text(out, "alerts-table")
    for kind in ("alerts-edit", "alerts-mute", "alerts-delete"):
        out = _view(client, action=(kind, world["rule"]), rule_ids=[world["rule"]])
        assert f"no alert rule {world['rule']}" in _text(out, "alerts-message")
    out = _view(client, save=1, editing=world["rule"], values={"name": "Taken over", "metric": "feed_errors",
                                                                "condition": "above", "threshold": "0"})
    assert f"no alert rule {world['rule']}" in _text(out, "alerts-message")
    assert alerts.get_rule(db, TenantContext(world["demo"], "owner"), world["rule"]).name == "Demo show below a million"
    status, history = call_callback(client, [("alerts-history", "children")],
                                    [[], ("alerts-url", "search", f"?rule={world['rule']}")], [],
                                    ["alerts-url.search"])
    assert status == 200 and "no alert rule" in json.dumps(history)
    assert alert_evaluation.evaluate_tenant(db, world["other"], "r1") == []
    rule = alerts.get_rule(db, TenantContext(world["demo"], "owner"), world["rule"])
    assert (rule.state, rule.evaluated_at) == ("ok", None)


def test_history_shows_the_rules_evaluations(app, db, world):
    assert alert_evaluation.evaluate_tenant(db, world["demo"], "r1")[0].notified
    client = _login(app, "viewer@demo.test")
    status, history = call_callback(client, [("alerts-history", "children")],
                                    [_pattern("alerts-show-history", [world["rule"]], world["rule"]),
                                     ("alerts-url", "search", "")], [], [_changed("alerts-show-history",
                                                                                  world["rule"])])
    assert status == 200
    shown = json.dumps(history)
    assert "History: Demo show below a million" in shown and "Triggered" in shown and "yes" in shown


def test_form_choices_follow_the_metric(app, world):
    client = _login(app, "editor@demo.test")
    status, out = call_callback(client, [("alerts-field-target_id", "options"), ("alerts-field-condition", "options")],
                                [("alerts-field-metric", "value", "feed_errors")], [],
                                ["alerts-field-metric.value"])
    assert status == 200
    assert [o["value"] for o in out["alerts-field-condition"]["options"]] == ["below", "above"]
    assert world["podcast_id"] in [o["value"] for o in out["alerts-field-target_id"]["options"]]


def test_anonymous_callback_is_refused(client):
    status, _ = call_callback(client, OUTPUTS[:1], [("alerts-url", "pathname", "/alerts")], [],
                              ["alerts-url.pathname"])
    assert status == 401
