"""The sponsor's pixel panel: the snippet carries the key and the public base URL, the last events are the
sponsor's own without addresses or household keys, refused calls are the last 7 days' by reason, and another
sponsor's user, a viewer and another tenant see nothing of it (service and callback)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from services.errors import NotFound, PermissionDenied
from services.models import AttributionEvent, AttributionRejection
from services.sponsorship.attribution import inputs, pixel_status
from services.sponsorship.attribution.shared_ips import SharedIpClassifier
from services.tenancy import TenantContext
from tests.dash_client import call_callback

BASE_URL = "https://stats.example.com"
HOME_IP, CLOUD_IP, OTHER_IP = "198.51.100.23", "3.4.5.6", "203.0.113.77"
# A stand-in for the ASN data: 3.x is a cloud network, the rest households.
CLASSIFIER = SharedIpClassifier(lambda ip: "AMAZON-02" if ip.startswith("3.") else "EXAMPLE BROADBAND")


def _convert(db, demo, sponsor: str, events: list[dict]):
    now = datetime.now(timezone.utc)
    return inputs.record_conversions(db, demo.ctx("editor"), demo.sponsors[sponsor], events, now=now,
                                     classifier=CLASSIFIER)


def _event(n: int, ip: str | None = HOME_IP, **extra) -> dict:
    at = datetime.now(timezone.utc) - timedelta(minutes=n)
    return {"event_id": f"ev-{n}", "type": "purchase", "occurred_at": at.isoformat(), "ip": ip, "value": "12.50",
            "currency": "usd", **extra}


@pytest.fixture
def events(db, demo):
    """25 Northwind Coffee events (the newest from a cloud address), 3 of Lumen VPN's."""
    result = _convert(db, demo, "Northwind Coffee", [_event(n, CLOUD_IP if n == 0 else HOME_IP) for n in range(25)])
    assert result.accepted == 25
    assert _convert(db, demo, "Lumen VPN", [_event(100 + n, OTHER_IP, value="777.77") for n in range(3)]).accepted == 3


@pytest.fixture
def rejections(db, demo):
    today = datetime.now(timezone.utc).date()
    coffee, vpn = demo.sponsors["Northwind Coffee"], demo.sponsors["Lumen VPN"]
    rows = [(demo.tenant_id, coffee, today, "bad_type", 4), (demo.tenant_id, coffee, today - timedelta(days=6),
                                                              "bad_type", 1),
            (demo.tenant_id, coffee, today - timedelta(days=2), "missing_id", 2),
            (demo.tenant_id, coffee, today - timedelta(days=7), "bad_value", 9),  # 8 days ago: outside the window
            (demo.tenant_id, vpn, today, "bad_currency", 5), (0, 0, today, "unknown_key", 3)]
    with db.session(system=True) as s:
        s.add_all([AttributionRejection(tenant_id=t, sponsor_id=sp, day=d, reason=r, count=n)
                   for t, sp, d, r, n in rows])
        s.commit()
    return today


def test_the_snippet_carries_the_key_and_the_public_base_url(db, demo):
    coffee = demo.sponsors["Northwind Coffee"]
    setup = pixel_status.pixel_setup(db, demo.ctx(), coffee, BASE_URL + "/")
    key = demo.pixel_keys["Northwind Coffee"]
    assert setup.pixel_key == key and setup.pixel_url == f"{BASE_URL}/px.gif"
    assert f'src="{BASE_URL}/px.gif?k={key}&e=pageview&id=' in setup.image_tag
    for part in (f'"{key}"', f'"{BASE_URL}/px.gif"', "randomUUID", "u: location.href", "r: document.referrer",
                 '"utm_"', "new Image().src"):
        assert part in setup.script, part
    assert setup.script.startswith("<script>") and setup.script.count("\n") < 12  # a few lines of plain JS
    assert pixel_status.pixel_setup(db, demo.ctx("sponsor", "Northwind Coffee"), coffee, BASE_URL).pixel_key == key


def test_last_events_are_the_sponsors_own_newest_twenty_without_addresses(db, demo, events):
    rows = pixel_status.recent_events(db, demo.ctx(), demo.sponsors["Northwind Coffee"])
    assert len(rows) == 20
    assert [r.at for r in rows] == sorted((r.at for r in rows), reverse=True)
    assert {r.value for r in rows} == {12.5} and {r.source for r in rows} == {"s2s"}  # none of Lumen VPN's
    assert rows[0].usable is False and all(r.usable for r in rows[1:])  # the cloud address is not a household
    assert rows[0].value == 12.5 and rows[0].currency == "USD"
    text = repr(rows)
    assert HOME_IP not in text and CLOUD_IP not in text
    with db.session(demo.tenant_id) as s:
        keys = [k for (k,) in s.query(AttributionEvent.household_key).filter(AttributionEvent.household_key.is_not(None))]
    assert keys and not any(k in text for k in keys)


def test_refused_calls_are_the_last_seven_days_by_reason(db, demo, rejections):
    got = pixel_status.recent_rejections(db, demo.ctx(), demo.sponsors["Northwind Coffee"], today=rejections)
    assert got == {"bad_type": 5, "missing_id": 2}
    assert list(got) == ["bad_type", "missing_id"]  # most first
    assert pixel_status.recent_rejections(db, demo.ctx(), demo.sponsors["Lumen VPN"], today=rejections) == {
        "bad_currency": 5}
    later = pixel_status.recent_rejections(db, demo.ctx(), demo.sponsors["Northwind Coffee"],
                                           today=rejections + timedelta(days=5))
    assert later == {"bad_type": 4}


@pytest.mark.parametrize("who", ["other_sponsor", "other_tenant", "viewer"])
def test_others_cannot_read_a_sponsors_pixel(db, demo, events, rejections, who):
    coffee = demo.sponsors["Northwind Coffee"]
    ctx = {"other_sponsor": demo.ctx("sponsor", "Lumen VPN"),
           "other_tenant": TenantContext(demo.other_tenant_id, "owner"),
           "viewer": demo.ctx("viewer")}[who]
    error = PermissionDenied if who == "viewer" else NotFound
    for call in (lambda: pixel_status.pixel_setup(db, ctx, coffee, BASE_URL),
                 lambda: pixel_status.recent_events(db, ctx, coffee),
                 lambda: pixel_status.recent_rejections(db, ctx, coffee)):
        with pytest.raises(error):
            call()
    choices = pixel_status.pixel_sponsors(db, ctx)
    assert coffee not in [sid for sid, _ in choices]
    if who == "other_sponsor":
        assert choices == [(demo.sponsors["Lumen VPN"], "Lumen VPN")]


def _choices(client):
    return call_callback(client, [("sponsor-pixel-sponsor", "options"), ("sponsor-pixel-sponsor", "value"),
                                  ("sponsor-pixel-box", "style")], [("sponsors-url", "pathname", "/sponsors")],
                         changed=["sponsors-url.pathname"])


def _panel(client, sponsor_id, refresh=None):
    return call_callback(client, [("sponsor-pixel-body", "children")],
                         [("sponsor-pixel-sponsor", "value", sponsor_id), ("sponsor-pixel-refresh", "n_clicks", refresh)],
                         changed=["sponsor-pixel-refresh.n_clicks" if refresh else "sponsor-pixel-sponsor.value"])


def test_the_panel_shows_snippet_events_and_refusals_to_the_sponsors_own_user(db, demo, events, rejections):
    client = demo.clients["sponsor_own"]
    status, out = _choices(client)
    coffee = demo.sponsors["Northwind Coffee"]
    assert status == 200 and out["sponsor-pixel-box"]["style"] == {}
    assert out["sponsor-pixel-sponsor"]["options"] == [{"label": "Northwind Coffee", "value": coffee}]
    status, out = _panel(client, coffee, refresh=1)
    text = json.dumps(out)
    assert status == 200 and demo.pixel_keys["Northwind Coffee"] in text and "/px.gif" in text
    assert text.count("12.50 USD") == 20 and "777.77" not in text and "bad_type" in text and "bad_value" not in text
    assert HOME_IP not in text and CLOUD_IP not in text and demo.pixel_keys["Lumen VPN"] not in text


@pytest.mark.parametrize("role", ["sponsor_other", "other_tenant", "viewer"])
def test_the_panel_shows_nothing_of_the_sponsor_to_others(db, demo, events, role):
    client, coffee = demo.clients[role], demo.sponsors["Northwind Coffee"]
    status, out = _choices(client)
    assert status == 200 and coffee not in [o["value"] for o in out["sponsor-pixel-sponsor"]["options"]]
    if role == "viewer":
        assert out["sponsor-pixel-box"]["style"] == {"display": "none"}
    status, out = _panel(client, coffee)
    text = json.dumps(out)
    assert status == 200 and demo.pixel_keys["Northwind Coffee"] not in text and "12.50" not in text
    assert "no sponsor" in text or "may not" in text


def test_a_sponsor_user_gets_no_directory_and_no_error_on_the_sponsors_page(demo):
    from tests import campaign_client as cc

    status, out = cc.sponsors_view(demo.clients["sponsor_own"])
    assert status == 200 and out["sponsors-table"]["children"] is None
    assert out["sponsors-message"]["children"] is None
    assert out["sponsors-form-box"]["style"] == {"display": "none"}
