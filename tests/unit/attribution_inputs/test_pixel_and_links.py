"""The pixel always answers a transparent GIF (garbage, unknown key, missing parameters, a failing sink) and its
events reach the store through the embedded writer; a bad call is counted by reason; a tracking link answers 302
with UTM parameters and records a click."""
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from api.attribution import PIXEL_GIF
from services.models import AttributionEvent
from services.sponsorship.attribution import links, pixel


def _flush(app):
    app.extensions["tracking"].sink.flush()


def _events(db, demo, source):
    with db.session(demo.tenant_id) as s:
        return s.execute(select(AttributionEvent).where(AttributionEvent.sponsor_id == demo.sponsor_id,
                                                        AttributionEvent.source == source)).scalars().all()


def _is_gif(response):
    return (response.status_code == 200 and response.mimetype == "image/gif" and response.data == PIXEL_GIF
            and response.data.startswith(b"GIF89a") and "no-store" in response.headers["Cache-Control"])


def test_pixel_stores_a_conversion_once(app, client, db, demo_sponsor):
    url = f"/px.gif?k={demo_sponsor.pixel_key}&e=purchase&id=order-77&v=49.5&c=eur&o=77&u=https://shop/x&utm_source=pod"
    for _ in range(2):  # the page reloaded: the same event id counts once
        assert _is_gif(client.get(url, environ_base={"REMOTE_ADDR": "24.5.6.7"}))
    _flush(app)
    (event,) = _events(db, demo_sponsor, "pixel")
    assert (event.event_id, event.type, str(event.value), event.currency, event.order_id) == (
        "order-77", "purchase", "49.50", "EUR", "77")
    assert event.page_url == "https://shop/x" and event.utm == {"utm_source": "pod"}
    assert len(event.household_key) == 32  # the address itself is not stored


@pytest.mark.parametrize("query", ["", "?k=nosuchkey&e=purchase&id=1", "?k=%ff%fe&e=\x00", "?garbage=" + "x" * 5000])
def test_pixel_answers_the_gif_whatever_it_is_sent(client, query):
    assert _is_gif(client.get("/px.gif" + query))


def test_pixel_answers_the_gif_when_the_sink_fails(app, client, demo_sponsor, monkeypatch):
    def broken(_record):
        raise RuntimeError("disk full")

    monkeypatch.setattr(app.extensions["tracking"].sink, "record", broken)
    assert _is_gif(client.get(f"/px.gif?k={demo_sponsor.pixel_key}&e=lead&id=1"))


def test_rejected_pixel_calls_are_counted_by_reason(app, client, db, demo_sponsor):
    key = demo_sponsor.pixel_key
    for query in (f"k={key}&e=bought&id=1", f"k={key}&e=lead", f"k={key}&e=lead&id=2&v=-3", f"k={key}&e=lead&id=3",
                  "k=unknown-key&e=lead&id=4"):
        assert _is_gif(client.get("/px.gif?" + query))
    _flush(app)
    assert pixel.rejection_counts(db, demo_sponsor.tenant_id, demo_sponsor.sponsor_id) == {
        "bad_type": 1, "missing_id": 1, "bad_value": 1}
    assert [e.event_id for e in _events(db, demo_sponsor, "pixel")] == ["3"]
    # An unknown key belongs to no sponsor: counted under tenant and sponsor 0 (the operator's view).
    assert pixel.rejection_counts(db, 0, 0) == {"unknown_key": 1}


def test_tracking_link_redirects_with_utm_and_records_a_click(app, client, db, demo_sponsor):
    link = links.create_tracking_link(db, demo_sponsor.ctx(), demo_sponsor.campaign_id, "show notes")
    response = client.get(f"/l/{link.code}", headers={"Referer": "https://podcasts.example/app"},
                          environ_base={"REMOTE_ADDR": "24.5.6.7"})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == demo_sponsor.landing_url
    assert parse_qs(location.query) == {"utm_source": ["podcast"], "utm_medium": ["audio"],
                                        "utm_campaign": [str(demo_sponsor.campaign_id)]}
    _flush(app)
    (click,) = _events(db, demo_sponsor, "link")
    assert click.type == "click" and click.campaign_id == demo_sponsor.campaign_id
    assert click.referrer == "https://podcasts.example/app"
    response = client.get("/l/nosuchcode")
    assert response.status_code == 404 and response.mimetype == "text/plain"


def test_utm_keeps_the_landing_pages_own_parameters():
    url = links.with_utm("https://shop.example/p?ref=pod&utm_source=old#top", 42)
    parts = urlsplit(url)
    assert parse_qs(parts.query) == {"ref": ["pod"], "utm_source": ["podcast"], "utm_medium": ["audio"],
                                     "utm_campaign": ["42"]} and parts.fragment == "top"


def test_links_are_created_only_for_the_tenants_campaigns(db, demo_sponsor):
    from services import accounts
    from services.errors import NotFound
    from services.tenancy import TenantContext

    other = accounts.create_tenant(db, "acme", "Acme")
    with pytest.raises(NotFound):
        links.create_tracking_link(db, TenantContext(other.id, "owner"), demo_sponsor.campaign_id)


@pytest.mark.parametrize("query", ["k=a&e=lead&id=1", "id=1&id=2&k=", "v=1+2&u=https%3A%2F%2Fs%2Fx%3Fa%3D1&c",
                                   "k=%ff%fe&e=%00&r=%E2%82%AC", "", "&&=x&k=%zz"])
def test_pixel_params_read_the_query_as_flask_args_do(query):
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from api.attribution import pixel_params

    environ = EnvironBuilder(path="/px.gif", query_string=query).get_environ()
    args = Request(environ).args
    assert pixel_params(environ["QUERY_STRING"]) == {name: args.get(name) for name in args}


def test_pixel_calls_carry_a_request_id_and_are_counted(client):
    response = client.get("/px.gif?k=x&e=lead&id=1", headers={"X-Request-ID": "px-1"})
    assert _is_gif(response) and response.headers["X-Request-ID"] == "px-1" and response.headers["Pragma"] == "no-cache"
    assert 'http_requests_total{method="GET",route="/px.gif",status="200"} 1.0' in client.get("/metrics").get_data(
        as_text=True)
