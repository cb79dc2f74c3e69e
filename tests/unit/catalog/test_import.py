"""Importing feeds into the catalog: every reference feed, idempotent re-imports, updates, isolation, bad input."""
import http.server
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services import accounts
from services.catalog import podcasts
from services.errors import PermissionDenied, ValidationError
from services.models import Episode, Podcast
from services.tenancy import TenantContext

DATA = Path(__file__).resolve().parents[2] / "data" / "feeds"
STATS = json.loads((DATA / "feed_stats.json").read_text())
REAL = sorted((DATA / "real_feeds").glob("*.xml")) + [DATA / "podcast_namespace" / "example.xml"]


@pytest.fixture
def acme(db):
    tenant = accounts.create_tenant(db, "acme", "Acme")
    return TenantContext(tenant_id=tenant.id, role="editor", tenant_slug="acme")


def _stats(name: str) -> dict:
    return next(v for k, v in STATS.items() if k.endswith(name))


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.stem.split("__")[-1])
def test_every_reference_feed_imports_with_its_episode_count(db, acme, path):
    result = podcasts.import_feed(db, acme, str(path))
    with db.session(acme.tenant_id) as s:
        stored = s.scalar(select(func.count(Episode.id)).where(Episode.podcast_id == result.podcast_id))
    # Every item with an enclosure is one episode: duplicated guids/URLs in these feeds are distinct items
    # (se-radio's 166 empty guids key on their distinct enclosure URLs; uyd's repeated #587 has two guids).
    assert stored == result.created == _stats(path.name)["enclosures"]
    again = podcasts.import_feed(db, acme, str(path))
    assert (again.podcast_id, again.created, again.updated, again.unchanged) == (result.podcast_id, 0, 0, stored)
def test_reimport_updates_changed_episodes(db, acme, tmp_path):
    source = (DATA / "real_feeds" / "akupila_node-podcast-parser__javascript-air.xml").read_text()
    feed = tmp_path / "feed.xml"
    feed.write_text(source)
    first = podcasts.import_feed(db, acme, str(feed))
    item_start = source.index("<item>")
    title_at = source.index("<title>", item_start) + len("<title>")
    feed.write_text(source[:title_at] + "Renamed: " + source[title_at:])  # the first item's title changes
    second = podcasts.import_feed(db, acme, str(feed))
    assert (second.podcast_id, second.created, second.updated) == (first.podcast_id, 0, 1)
    assert second.unchanged == first.created - 1
    with db.session(acme.tenant_id) as s:
        assert s.scalar(select(func.count(Episode.id)).where(Episode.title.like("Renamed: %"))) == 1


def test_episode_rows_carry_what_measurement_needs(db, acme):
    result = podcasts.import_feed(db, acme, str(DATA / "podcast_namespace" / "example.xml"))
    with db.session(acme.tenant_id) as s:
        episode = s.scalar(select(Episode).where(Episode.podcast_id == result.podcast_id).order_by(Episode.id))
        podcast = s.get(Podcast, result.podcast_id)
    assert episode.match_key and episode.enclosure_url and episode.chapters_url and episode.transcripts
    assert len(podcast.prefix_key) >= 12


def test_bad_feed_writes_nothing(db, acme, tmp_path):
    bad = tmp_path / "page.html"
    bad.write_text("<!doctype html><html><body>not a feed</body></html>")
    with pytest.raises(ValidationError, match="page.html"):
        podcasts.import_feed(db, acme, str(bad))
    with pytest.raises(ValidationError, match="no such file"):
        podcasts.import_feed(db, acme, str(tmp_path / "missing.xml"))
    assert podcasts.list_podcasts(db, acme) == []


def test_viewers_and_other_tenants(db, acme):
    viewer = TenantContext(tenant_id=acme.tenant_id, role="viewer")
    with pytest.raises(PermissionDenied):
        podcasts.import_feed(db, viewer, str(REAL[0]))
    podcasts.import_feed(db, acme, str(REAL[0]))
    demo = accounts.get_tenant_by_slug(db, "demo")
    demo_ctx = TenantContext(tenant_id=demo.id, role="owner")
    assert [p.title for p in podcasts.list_podcasts(db, demo_ctx)] == [
        "Market Hours", "Signal & Noise", "The Long Way Round"]
    acme_podcast = podcasts.list_podcasts(db, acme)[0]
    with pytest.raises(Exception, match="no podcast"):
        podcasts.list_episodes(db, demo_ctx, acme_podcast.id)


class _FeedServer(http.server.BaseHTTPRequestHandler):
    body = b""
    etag = '"v1"'

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.headers.get("If-None-Match") == self.etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", self.etag)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def test_refresh_uses_conditional_get_and_records_errors(db, acme):
    name = "akupila_node-podcast-parser__libsyn-example-podcast.xml"
    _FeedServer.body, _FeedServer.etag = (DATA / "real_feeds" / name).read_bytes(), '"v1"'
    server = http.server.HTTPServer(("127.0.0.1", 0), _FeedServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/feed.xml"
    try:
        result = podcasts.import_feed(db, acme, url)
        assert podcasts.refresh_feed(db, result.podcast_id) == "not modified"
        _FeedServer.etag = '"v2"'
        assert podcasts.refresh_feed(db, result.podcast_id) == "updated"
        _FeedServer.body, _FeedServer.etag = b"this is not xml", '"v3"'
        assert podcasts.refresh_feed(db, result.podcast_id).startswith("error:")
        row = podcasts.list_podcasts(db, acme)[0]
        assert row.feed_error and row.episodes == _stats(name)["enclosures"]
    finally:
        server.shutdown()
