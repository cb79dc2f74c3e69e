"""fetch_feed against a throwaway HTTP server on 127.0.0.1: conditional GET with ETag."""
from __future__ import annotations

import gzip
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from services.catalog.feeds import FeedFetchError, fetch_feed

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Local</title></channel></rss>'
ETAG = '"v1"'
LAST_MODIFIED = "Tue, 09 Nov 2021 17:08:12 GMT"


class FeedHandler(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict]] = []

    def do_GET(self):  # http.server's method naming
        FeedHandler.requests.append(dict(self.headers))
        if self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/feed.xml")
            self.end_headers()
            return
        if self.path == "/gone":
            self.send_response(410)
            self.end_headers()
            return
        if self.headers.get("If-None-Match") == ETAG:
            self.send_response(304)
            self.send_header("ETag", ETAG)
            self.end_headers()
            return
        body = FEED
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("ETag", ETAG)
        self.send_header("Last-Modified", LAST_MODIFIED)
        if self.path == "/gzip" and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(FEED)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def server():
    FeedHandler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FeedHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_200_with_etag_then_304_when_if_none_match_matches(server):
    first = fetch_feed(f"{server}/feed.xml", timeout=5)
    assert (first.status, first.content, first.etag, first.last_modified) == (200, FEED, ETAG, LAST_MODIFIED)
    assert first.final_url == f"{server}/feed.xml"
    assert "If-None-Match" not in FeedHandler.requests[0]

    second = fetch_feed(f"{server}/feed.xml", etag=first.etag, last_modified=first.last_modified, timeout=5)
    assert (second.status, second.content, second.etag) == (304, None, ETAG)
    assert second.last_modified == LAST_MODIFIED  # kept from the request when the 304 omits it
    assert FeedHandler.requests[1]["If-None-Match"] == ETAG
    assert FeedHandler.requests[1]["If-Modified-Since"] == LAST_MODIFIED


def test_redirects_gzip_and_error_statuses(server):
    moved = fetch_feed(f"{server}/moved", timeout=5)
    assert (moved.status, moved.final_url) == (200, f"{server}/feed.xml")
    assert fetch_feed(f"{server}/gzip", timeout=5).content == FEED
    gone = fetch_feed(f"{server}/gone", timeout=5)
    assert (gone.status, gone.content) == (410, None)


def test_only_http_urls_and_network_failures_raise_feed_fetch_error():
    with pytest.raises(FeedFetchError, match="only http and https"):
        fetch_feed("file:///etc/passwd")
    with socket.socket() as bound_not_listening:  # a local port that refuses connections
        bound_not_listening.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound_not_listening.getsockname()[1]}/feed.xml"
        with pytest.raises(FeedFetchError, match="could not be fetched"):
            fetch_feed(url, timeout=2)
