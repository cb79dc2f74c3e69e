"""Tracking links and promo-code uploads on the campaigns page: the full /l/ URL with its label, refused for
another tenant's campaign or a sponsor user, and a promo CSV's bad rows reported by line with nothing stored."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from services.errors import NotFound, PermissionDenied, ValidationError
from services.models import AttributionEvent
from services.sponsorship.attribution import links, promo_upload
from services.tenancy import TenantContext
from tests.dash_client import call_callback


def _data_url(text: str) -> str:
    return "data:text/csv;base64," + base64.b64encode(text.encode()).decode()


def _promo_code(db, demo, campaign: str) -> str:
    from services.sponsorship import campaigns
    return campaigns.get_campaign(db, demo.ctx(), demo.campaigns[campaign]).promo_code


def _stored(db, demo) -> int:
    with db.session(demo.tenant_id) as s:
        return s.scalar(select(func.count()).select_from(AttributionEvent).where(
            AttributionEvent.tenant_id == demo.tenant_id, AttributionEvent.source == "promo_csv"))


def _first_campaign(demo) -> tuple[str, int]:
    return sorted(demo.campaigns.items())[0]


def test_links_are_listed_per_campaign_and_refused_elsewhere(db, demo):
    name, campaign_id = _first_campaign(demo)
    made = links.create_tracking_link(db, demo.ctx(), campaign_id, "show notes")
    assert [(row.code, row.label) for row in links.list_tracking_links(db, demo.ctx(), campaign_id)] == [
        (made.code, "show notes")]
    other = TenantContext(demo.other_tenant_id, "owner")
    with pytest.raises(NotFound):
        links.create_tracking_link(db, other, campaign_id, "stolen")
    with pytest.raises(NotFound):
        links.list_tracking_links(db, other, campaign_id)
    with pytest.raises(PermissionDenied):
        links.create_tracking_link(db, demo.ctx("sponsor", "Northwind Coffee"), campaign_id, "mine")
    assert len(links.list_tracking_links(db, demo.ctx(), campaign_id)) == 1


def _choices(client):
    return call_callback(client, [("campaign-inputs-campaign", "options"), ("campaign-inputs-box", "style")],
                         [("campaigns-table", "children", None)], changed=["campaigns-table.children"])


def _links(client, campaign_id, label=None, create=False):
    return call_callback(client, [("campaign-inputs-links", "children"), ("campaign-inputs-link-message", "children"),
                                  ("campaign-inputs-label-error", "children")],
                         [("campaign-inputs-campaign", "value", campaign_id),
                          ("campaign-inputs-create-link", "n_clicks", 1 if create else None)],
                         [("campaign-inputs-label", "value", label)],
                         changed=["campaign-inputs-create-link.n_clicks" if create else "campaign-inputs-campaign.value"])


def _upload(client, campaign_id, text):
    return call_callback(client, [("campaign-inputs-upload-result", "children")],
                         [("campaign-inputs-upload", "contents", _data_url(text))],
                         [("campaign-inputs-campaign", "value", campaign_id)],
                         changed=["campaign-inputs-upload.contents"])


def test_an_editor_creates_a_link_and_sees_its_full_url_and_label(app, demo, db):
    client = demo.clients["editor"]
    _, out = _choices(client)
    assert out["campaign-inputs-box"]["style"] == {}
    _, campaign_id = _first_campaign(demo)
    assert campaign_id in [o["value"] for o in out["campaign-inputs-campaign"]["options"]]
    _, out = _links(client, campaign_id, "x" * 201, create=True)
    assert out["campaign-inputs-label-error"]["children"] == "at most 200 characters"
    _, out = _links(client, campaign_id, "host read", create=True)
    code = links.list_tracking_links(db, demo.ctx(), campaign_id)[0].code
    base = app.extensions["podcast_platform"].settings.public_base_url.rstrip("/")
    text = json.dumps(out["campaign-inputs-links"])
    assert f"{base}/l/{code}" in text and "host read" in text
    assert f"/l/{code}" in json.dumps(out["campaign-inputs-link-message"])


@pytest.mark.parametrize("role", ["viewer", "sponsor_own", "other_tenant"])
def test_others_get_no_panel_and_cannot_create_or_list_links(db, demo, role):
    client = demo.clients[role]
    _, campaign_id = _first_campaign(demo)
    links.create_tracking_link(db, demo.ctx(), campaign_id, "secret label")
    _, out = _choices(client)
    assert out["campaign-inputs-campaign"]["options"] == []  # the other tenant's owner: its own (none)
    assert out["campaign-inputs-box"]["style"] == ({} if role == "other_tenant" else {"display": "none"})
    _, out = _links(client, campaign_id, "sneaky", create=True)
    text = json.dumps(out)
    assert "secret label" not in text and "/l/" not in text
    assert ("no campaign" if role == "other_tenant" else "may not") in text
    assert [row.label for row in links.list_tracking_links(db, demo.ctx(), campaign_id)] == ["secret label"]


def test_a_promo_csv_with_bad_rows_is_reported_by_line_and_stores_nothing(db, demo):
    client = demo.clients["editor"]
    name, campaign_id = _first_campaign(demo)
    code = _promo_code(db, demo, name)
    at = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    bad = (f"code,occurred_at,order_id,value\n{code},{at},A-1,19.99\nNOPE99,{at},A-2,5\n"
           f"{code},yesterday,A-3,5\n{code},{at},A-4,-1\n")
    _, out = _upload(client, campaign_id, bad)
    text = json.dumps(out)
    assert "Nothing was imported: 3 bad row(s)" in text
    table = out["campaign-inputs-upload-result"]["children"]["props"]["children"][1]["props"]["children"]  # in its box
    rows = table["props"]["children"][1]
    cells = [[cell["props"]["children"] for cell in tr["props"]["children"]] for tr in rows["props"]["children"]]
    assert [(line, field) for line, field, _ in cells] == [(3, "code"), (4, "occurred_at"), (5, "value")]
    assert _stored(db, demo) == 0
    good = f"code,occurred_at,order_id,value\n{code},{at},A-1,19.99\n{code.lower()},{at},A-2,5\n"
    _, out = _upload(client, campaign_id, good)
    assert "2 order(s) stored" in json.dumps(out) and _stored(db, demo) == 2
    _, out = _upload(client, campaign_id, good)
    assert "0 order(s) stored, 2 already stored before" in json.dumps(out) and _stored(db, demo) == 2


@pytest.mark.parametrize("role", ["viewer", "sponsor_own", "other_tenant"])
def test_others_cannot_upload_promo_codes(db, demo, role):
    name, campaign_id = _first_campaign(demo)
    at = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = f"code,occurred_at,order_id,value\n{_promo_code(db, demo, name)},{at},B-1,1\n"
    status, out = _upload(demo.clients[role], campaign_id, text)
    assert status == 200 and "Nothing was imported" in json.dumps(out) and _stored(db, demo) == 0


def test_the_upload_must_be_a_utf8_data_url():
    with pytest.raises(ValidationError) as caught:
        promo_upload.decode_upload("not a data url")
    assert caught.value.fields == {"file": "unreadable upload"}
    with pytest.raises(ValidationError) as caught:
        promo_upload.decode_upload("data:text/csv;base64," + base64.b64encode("café".encode("latin-1")).decode())
    assert caught.value.fields == {"file": "not UTF-8 text"}
    assert promo_upload.decode_upload(_data_url("code\n")) == "code\n"
