"""The Live page in embedded mode (SQLite, the in-process bus fed by the embedded writer): prefix hits and pixel
conversions show within the same process, per tenant only, hashed keys only; sponsor users get nothing."""
import json
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from services import accounts
from services.models import Episode, Podcast, Sponsor
from tests.dash_client import call_callback

APPLE = "Podcasts/1530.3 CFNetwork/1220.1 Darwin/20.3.0"
OUTPUTS = [("live-message", "children"), ("live-kpis", "children"), ("live-chart", "figure"),
           ("live-episodes", "children"), ("live-apps", "children"), ("live-countries", "children"),
           ("live-recent", "children")]


def live(client) -> tuple[int, dict]:
    return call_callback(client, OUTPUTS, [("live-poll", "n_intervals", 1)])


def hits_in_chart(out: dict) -> int:
    return sum(out["live-chart"]["figure"]["data"][0]["y"])


def flush(app) -> None:
    app.extensions["tracking"].sink.flush()
    assert app.extensions["live"].feed.flush(timeout=10)


@pytest.fixture
def demo_show(db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    with db.session(tenant.id) as s:
        podcast = s.scalar(select(Podcast).order_by(Podcast.id))
        episode = s.scalar(select(Episode).where(Episode.podcast_id == podcast.id).order_by(Episode.id.desc()))
        sponsor = s.scalar(select(Sponsor).order_by(Sponsor.id))
    return podcast.prefix_key, episode.enclosure_url.removeprefix("https://"), episode.title, sponsor


@pytest.fixture
def acme(app, db):
    """Another tenant with a show of its own, and its logged-in owner."""
    tenant = accounts.create_tenant(db, "acme", "Acme")
    accounts.create_user(db, "o@acme.test", "acme", "owner", password="password-1")
    with db.session(tenant.id) as s:
        podcast = Podcast(tenant_id=tenant.id, prefix_key="acmelivekey", title="Acme Show", feed_url=None)
        s.add(podcast)
        s.flush()
        s.add(Episode(tenant_id=tenant.id, podcast_id=podcast.id, guid="acme-1", title="Acme Secret Episode",
                      enclosure_url="https://media.acme.test/acme-1.mp3"))
        s.commit()
    client = app.test_client()
    assert client.post("/login", data={"email": "o@acme.test", "password": "password-1"}).status_code == 302
    return client


def test_the_page_is_in_the_staff_navigation(demo_client):
    page = demo_client.get("/live")
    assert page.status_code == 200
    status, out = live(demo_client)
    assert status == 200 and out["live-message"]["children"] is None


def test_prefix_hits_show_per_tenant_with_hashed_keys_only(app, demo_client, acme, demo_show):
    key, target, title, _ = demo_show
    before = hits_in_chart(live(demo_client)[1])
    for i in range(3):
        assert demo_client.get(f"/e/{key}/{target}", headers={"User-Agent": APPLE},
                               environ_base={"REMOTE_ADDR": f"203.0.113.{i + 1}"}).status_code == 302
    assert acme.get("/e/acmelivekey/media.acme.test/acme-1.mp3", headers={"User-Agent": APPLE},
                    environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 302
    flush(app)

    status, out = live(demo_client)
    assert status == 200 and hits_in_chart(out) == before + 3
    text = json.dumps(out)
    assert title[:30] in text and "Apple Podcasts" in text
    assert "Acme Secret Episode" not in text and "Acme Show" not in text
    assert "203.0.113." not in text and "CFNetwork" not in text  # hashed keys only: no IP, no raw User-Agent

    status, out = live(acme)
    assert status == 200 and hits_in_chart(out) == 1
    text = json.dumps(out)
    assert "Acme Secret Episode" in text and title[:30] not in text and "198.51.100.7" not in text


def test_pixel_conversions_show_in_the_recent_list(app, demo_client, acme, demo_show):
    _, _, _, sponsor = demo_show
    query = urlencode({"k": sponsor.pixel_key, "e": "purchase", "id": "live-order-1", "v": "25.00", "c": "USD"})
    assert demo_client.get(f"/px.gif?{query}", environ_base={"REMOTE_ADDR": "203.0.113.50"}).status_code == 200
    flush(app)
    status, out = live(demo_client)
    text = json.dumps(out)
    assert "Conversion" in text and sponsor.name in text and "purchase 25.00 USD" in text and "203.0.113.50" not in text
    assert "purchase" not in json.dumps(live(acme)[1])


def test_sponsor_users_get_nothing(app, db, demo_client, demo_show):
    key, target, title, sponsor = demo_show
    demo_client.get(f"/e/{key}/{target}", headers={"User-Agent": APPLE})
    flush(app)
    accounts.create_user(db, "s@sponsor.test", "demo", "sponsor", password="password-1", sponsor_id=sponsor.id)
    client = app.test_client()
    assert client.post("/login", data={"email": "s@sponsor.test", "password": "password-1"}).status_code == 302
    status, out = live(client)
    assert status == 200
    text = json.dumps(out)
    assert "sponsor users see only" in text and title[:30] not in text and "Apple Podcasts" not in text
