"""The live feed's batching: one message per tenant, events without IPs or raw User-Agents, old and foreign records
left out; and the feed's thread publishing what the ingest path offers."""
import json
from datetime import datetime, timezone

from services.live.bus import MemoryBus
from services.live.feed import LiveFeed, Show, build_batches

NOW = 1_800_000_000.0
MINUTE = int(NOW // 60)


class FakeResolver:
    shows = {"north": Show(1, "North Show", {"media.test/n.mp3": "North Ep"}), "south": Show(2, "South Show")}

    def show(self, key):
        return self.shows.get(key)

    def episode(self, show, url):
        return show.episodes.get(url.split("://", 1)[-1], "Unknown")

    def sponsor(self, key):
        return {"px1": (1, "Northwind")}.get(key)

    def secret(self, month):
        return b"s" * 32

    def app(self, ua):
        return "Overcast" if ua and "Overcast" in ua else "Unknown"

    def country(self, ip):
        return "DE" if ip.startswith("203.") else "Unknown"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat()


def _hit(key, ts=NOW, ip="203.0.113.4", ua="Overcast/3.0 (+http://overcast.fm/)"):
    return {"uid": "u", "ts": _iso(ts), "key": key, "ip": ip, "ua": ua, "method": "GET", "url": "https://media.test/n.mp3"}


def test_batches_per_tenant_with_hashed_keys_only():
    records = [_hit("north"), _hit("north", NOW - 120), _hit("south", ip="198.51.100.1"), _hit("nosuchkey"),
               _hit("north", NOW - 61 * 60),  # older than the hour
               {"kind": "attribution", "src": "pixel", "ts": _iso(NOW), "ip": "203.0.113.4", "k": "px1",
                "e": "purchase", "v": "9.50", "c": "EUR"},
               {"kind": "attribution", "src": "pixel", "ts": _iso(NOW), "ip": "203.0.113.4", "k": "unknown"},
               {"kind": "attribution", "src": "link", "ts": _iso(NOW), "ip": "203.0.113.4", "l": "abc"},
               {"ts": "not a time", "key": "north"}]
    batches = build_batches(records, FakeResolver(), NOW)
    assert set(batches) == {1, 2}
    north = batches[1]
    assert north["minutes"][MINUTE] == {"hits": 1, "e:North Ep": 1, "a:Overcast": 1, "c:DE": 1, "conversions": 1}
    assert north["minutes"][MINUTE - 2]["hits"] == 1
    assert [e["kind"] for e in north["recent"]] == ["hit", "hit", "conversion"]  # oldest first
    assert batches[2]["minutes"][MINUTE] == {"hits": 1, "e:Unknown": 1, "a:Overcast": 1, "c:Unknown": 1}
    text = json.dumps(batches)
    assert "203.0.113" not in text and "198.51.100" not in text and "overcast.fm" not in text
    keys = {e["key"] for e in north["recent"]}
    assert all(len(k) == 12 for k in keys)


def test_the_feed_thread_publishes_offered_journal_lines():
    bus = MemoryBus(clock=lambda: NOW)
    feed = LiveFeed(bus, FakeResolver(), clock=lambda: NOW)
    feed.offer([json.dumps(_hit("north")).encode(), b"", b"not json", json.dumps(_hit("south")).encode()])
    assert feed.flush(timeout=5)
    assert bus.snapshot(1)["minutes"][MINUTE]["hits"] == 1 and bus.snapshot(2)["seq"] == 1
    assert bus.snapshot(3)["seq"] == 0


def test_a_full_queue_drops_batches_instead_of_waiting():
    bus = MemoryBus(clock=lambda: NOW)
    feed = LiveFeed(bus, FakeResolver(), max_batches=1, clock=lambda: NOW)
    feed._thread = object()  # no consumer: the queue stays full
    feed.offer([_hit("north")])
    feed.offer([_hit("north")])
    assert feed.dropped == 1 and feed.queue.qsize() == 1
