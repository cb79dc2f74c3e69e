"""The live view in production shape: the app on PostgreSQL with Redis, prefix hits shipped by the journal and
published on the Redis live bus, the page's board fed by its pub/sub subscription; per tenant only."""
from __future__ import annotations

import json
import threading
import time

import pytest
import redis

from app import create_app
from services import accounts
from services.live.board import LiveBoard
from services.live.bus import RedisBus
from services.models import Episode, Podcast, Sponsor
from tests.conftest import make_settings
from tests.dash_client import call_callback

APPLE = "Podcasts/1530.3 CFNetwork/1220.1 Darwin/20.3.0"
OUTPUTS = [("live-message", "children"), ("live-kpis", "children"), ("live-chart", "figure"),
           ("live-episodes", "children"), ("live-apps", "children"), ("live-countries", "children"),
           ("live-recent", "children")]


def _clear_live_state(client: redis.Redis) -> None:
    for key in client.scan_iter("live:*", count=1000):
        client.delete(key)


@pytest.fixture
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url)
    _clear_live_state(client)  # tenant ids restart in each fresh database
    yield client
    _clear_live_state(client)
    client.close()


def test_redis_bus_keeps_state_and_publishes_per_tenant(redis_client):
    now = time.time()
    minute = int(now // 60)
    bus = RedisBus(redis_client, clock=lambda: now)
    received: list[tuple[int, int, dict]] = []
    arrived = threading.Event()

    def handler(tenant_id, seq, message):
        received.append((tenant_id, seq, message))
        if len(received) >= 2:
            arrived.set()

    bus.listen(handler, lambda: None)
    board = LiveBoard(bus, clock=lambda: now)
    deadline = time.monotonic() + 5
    while not redis_client.pubsub_numpat() and time.monotonic() < deadline:
        time.sleep(0.02)  # the subscriber thread is subscribed
    bus.publish({1: {"minutes": {minute: {"hits": 2, "e:Mine": 2}}, "recent": [{"t": int(now), "kind": "hit"}]},
                 2: {"minutes": {minute - 3: {"hits": 5, "e:Theirs": 5}}, "recent": []}})
    assert arrived.wait(5), received
    assert sorted((t, s) for t, s, _ in received) == [(1, 1), (2, 1)]
    assert {t: m["minutes"] for t, _, m in received}[1] == {str(minute): {"hits": 2, "e:Mine": 2}}

    snapshot = bus.snapshot(1)
    assert snapshot["seq"] == 1 and snapshot["minutes"] == {minute: {"hits": 2, "e:Mine": 2}}
    assert 0 < redis_client.ttl(f"live:1:m:{minute}") <= 65 * 60
    first, second = board.view(1), board.view(2)
    assert first.hits_now == 2 and first.episodes == [("Mine", 2)] and len(first.recent) == 1
    assert second.hits_now == 5 and second.episodes == [("Theirs", 5)] and second.recent == []

    bus.publish({1: {"minutes": {minute: {"hits": 1, "e:Mine": 1}}, "recent": [{"t": int(now), "kind": "hit"}]}})
    deadline = time.monotonic() + 5
    while board.view(1).hits_now != 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert board.view(1).hits_now == 3 and board._tenants[1].seq == 2  # applied from the message, in sequence
    assert board.view(2).hits_now == 5
    bus.close()
    assert not bus._thread.is_alive()


@pytest.fixture
def pg_live_app(pg_url, redis_url, redis_client, tmp_path):
    """The app on PostgreSQL and Redis, with two tenants (one show each, an owner each) and a sponsor user."""
    server = create_app(make_settings(tmp_path, DATABASE_URL=pg_url, REDIS_URL=redis_url))
    db = server.extensions["podcast_platform"].db
    for slug in ("north", "south"):
        tenant = accounts.create_tenant(db, slug, slug.title())
        accounts.create_user(db, f"o@{slug}.test", slug, "owner", password="password-1")
        with db.session(tenant.id) as s:
            podcast = Podcast(tenant_id=tenant.id, prefix_key=f"{slug}livekey", title=f"{slug.title()} Show")
            s.add(podcast)
            s.flush()
            s.add(Episode(tenant_id=tenant.id, podcast_id=podcast.id, guid=f"{slug}-1",
                          title=f"{slug.title()} Only Episode", enclosure_url=f"https://media.{slug}.test/1.mp3"))
            sponsor = Sponsor(tenant_id=tenant.id, name=f"{slug.title()} Sponsor")
            s.add(sponsor)
            s.commit()
            if slug == "north":
                accounts.create_user(db, "s@north.test", "north", "sponsor", password="password-1",
                                     sponsor_id=sponsor.id)
    yield server
    server.extensions["tracking"].sink.close()
    server.extensions["live"].bus.close()
    db.dispose()


def _login(app, email: str):
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": "password-1"}).status_code == 302
    return client


def _live(client) -> dict:
    status, out = call_callback(client, OUTPUTS, [("live-poll", "n_intervals", 1)])
    assert status == 200
    return out


def _hits(out: dict) -> int:
    return sum(out["live-chart"]["figure"]["data"][0]["y"])


def test_prefix_hits_reach_each_tenants_live_page_through_redis(pg_live_app):
    north, south = _login(pg_live_app, "o@north.test"), _login(pg_live_app, "o@south.test")
    assert _hits(_live(north)) == 0 and _hits(_live(south)) == 0  # both boards loaded and subscribed
    for i in range(3):
        assert north.get("/e/northlivekey/media.north.test/1.mp3", headers={"User-Agent": APPLE},
                         environ_base={"REMOTE_ADDR": f"203.0.113.{i + 1}"}).status_code == 302
    assert south.get("/e/southlivekey/media.south.test/1.mp3", headers={"User-Agent": APPLE},
                     environ_base={"REMOTE_ADDR": "198.51.100.9"}).status_code == 302
    deadline = time.monotonic() + 5  # the journal ships within milliseconds; the page polls every 3 s
    while _hits(_live(north)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    out = _live(north)
    text = json.dumps(out)
    assert _hits(out) == 3 and "North Only Episode" in text and "Apple Podcasts" in text
    assert "South" not in text and "203.0.113." not in text and "CFNetwork" not in text
    while _hits(_live(south)) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    text = json.dumps(_live(south))
    assert _hits(_live(south)) == 1 and "South Only Episode" in text and "North" not in text

    sponsor = _login(pg_live_app, "s@north.test")
    text = json.dumps(call_callback(sponsor, OUTPUTS, [("live-poll", "n_intervals", 1)])[1])
    assert "sponsor users see only" in text and "North Only Episode" not in text
