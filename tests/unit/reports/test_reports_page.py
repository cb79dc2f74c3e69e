"""The email reports page's callbacks on the demo app: a user saves, edits, previews and deletes their own report;
another user (and another tenant's) never sees or deletes it; a sponsor user may choose only their sponsor's
campaigns; the preview is the email's HTML with its charts inlined."""
from __future__ import annotations

import json

from components.reports import FIELDS
from services.notify.reports import subscriptions as subs
from tests.dash_client import call_callback
from tests.unit.notify.people import login
from tests.unit.reports.conftest import WEEKLY_NETWORK, campaign_of
from tests.unit.reports.pngs import blank_renderer, good_renderer

OUTPUTS = [("reports-table", "children"), ("reports-history", "children"), ("reports-message", "children"),
           ("reports-field-kind", "options"), ("reports-editing", "data"), ("reports-form-title", "children"),
           *[(f"reports-field-{name}", "value") for name in FIELDS],
           *[(f"reports-error-{name}", "children") for name in FIELDS]]


def _pattern(kind: str, ids=(), clicked=None) -> list:
    return [({"type": kind, "index": i}, "n_clicks", 1 if i == clicked else None) for i in ids]


def _changed(kind: str, sub_id: int) -> str:
    return json.dumps({"index": sub_id, "type": kind}, separators=(",", ":")) + ".n_clicks"


def _view(client, save=None, values=None, action=None, ids=(), editing=None):
    values = values or {}
    kind, clicked = action or (None, None)
    inputs = [("reports-url", "pathname", "/settings/reports"), ("reports-save", "n_clicks", save),
              ("reports-cancel", "n_clicks", None),
              *[_pattern(k, ids, clicked if k == kind else None) for k in ("reports-edit", "reports-delete")]]
    state = [("reports-editing", "data", editing), *[(f"reports-field-{n}", "value", values.get(n)) for n in FIELDS]]
    changed = ["reports-save.n_clicks"] if save else [_changed(kind, clicked)] if action else [
        "reports-url.pathname"]
    status, out = call_callback(client, OUTPUTS, inputs, state, changed)
    assert status == 200
    return out


def _text(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _preview(client, sub_id):
    status, out = call_callback(client, [("reports-preview", "children"), ("reports-preview-message", "children")],
                                [_pattern("reports-show-preview", [sub_id], sub_id)],
                                changed=[_changed("reports-show-preview", sub_id)])
    assert status == 200
    return out


def test_a_user_saves_edits_previews_and_deletes_their_own_report(app, db, people, monkeypatch):
    admin_client, owner_client = login(app, "admin@demo.test"), login(app, "editor@demo.test")
    out = _view(admin_client, save=1, values=WEEKLY_NETWORK)
    assert "Saved “Network report: Demo Network”" in _text(out["reports-message"])
    (sub,) = subs.list_subscriptions(db, people.ctx("admin"))
    edit = _view(admin_client, action=("reports-edit", sub.id), ids=[sub.id])
    assert edit["reports-editing"]["data"] == sub.id and edit["reports-field-day"]["value"] == 1
    _view(admin_client, save=1, editing=sub.id, values={**WEEKLY_NETWORK, "day": 4})
    assert subs.get_subscription(db, people.ctx("admin"), sub.id).day == 4
    bad = _view(admin_client, save=1, values={**WEEKLY_NETWORK, "kind": "show"})
    assert bad["reports-error-target_id"]["children"] == "choose a show"

    # Another user sees nothing of it and cannot delete it, even by id.
    owner_view = _view(owner_client, action=("reports-delete", sub.id), ids=[sub.id])
    assert f"no report subscription {sub.id}" in _text(owner_view["reports-message"])
    assert "Demo Network" not in _text(owner_view["reports-table"])
    acme_view = _view(login(app, "owner@acme.test"), action=("reports-delete", sub.id), ids=[sub.id])
    assert f"no report subscription {sub.id}" in _text(acme_view["reports-message"])
    assert "Network report" not in _text(acme_view["reports-table"])
    assert _preview(owner_client, sub.id)["reports-preview"]["children"] is None

    monkeypatch.setattr("services.notify.reports.charts.kaleido_renderer", good_renderer)
    preview = _text(_preview(admin_client, sub.id))
    assert "data:image/png;base64," in preview and "cid:" not in preview and "Weekly report: Demo Network" in preview
    monkeypatch.setattr("services.notify.reports.charts.kaleido_renderer", blank_renderer)
    assert "would not be sent" in _text(_preview(admin_client, sub.id)["reports-preview-message"])

    gone = _view(admin_client, action=("reports-delete", sub.id), ids=[sub.id])
    assert "Report deleted." in _text(gone["reports-message"])
    assert subs.list_subscriptions(db, people.ctx("admin")) == []


def test_a_sponsor_user_chooses_only_their_sponsors_campaigns(app, db, people):
    client = login(app, "coffee@demo.test")
    out = _view(client)
    assert out["reports-field-kind"]["options"] == [{"label": "Campaign report", "value": "campaign"}]
    status, choices = call_callback(client, [("reports-field-target_id", "options"),
                                             ("reports-field-target_id", "disabled"), ("reports-field-day", "options")],
                                    [("reports-field-kind", "value", "campaign"),
                                     ("reports-field-frequency", "value", "monthly")],
                                    changed=["reports-field-kind.value"])
    assert status == 200
    values = [o["value"] for o in choices["reports-field-target_id"]["options"]]
    assert campaign_of(db, people.tenant_id, people.sponsors["Northwind Coffee"]) in values
    assert campaign_of(db, people.tenant_id, people.sponsors["Lumen VPN"]) not in values
    assert len(choices["reports-field-day"]["options"]) == 31
    other = campaign_of(db, people.tenant_id, people.sponsors["Lumen VPN"])
    refused = _view(client, save=1, values={"kind": "campaign", "target_id": other, "frequency": "weekly", "day": 1,
                                            "hour": 8})
    assert refused["reports-error-target_id"]["children"] == f"no campaign {other}"
    assert subs.list_subscriptions(db, people.ctx("coffee")) == []
