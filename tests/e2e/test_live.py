"""The Live page in a real browser: prefix hits sent over HTTP move the page within 5 seconds, on the production
stack (PostgreSQL, Redis pub/sub, a real worker) and on the embedded default (SQLite, the in-process bus)."""
from __future__ import annotations

import sqlite3
import time
import urllib.error
import urllib.request

import psycopg

from tests.e2e.conftest import LIVE_INSTANCES, login

APPLE = "Podcasts/1530.3 CFNetwork/1220.1 Darwin/20.3.0"
SHOW_QUERY = ("SELECT p.prefix_key, e.enclosure_url, e.title FROM episodes e JOIN podcasts p ON p.id = e.podcast_id "
              "ORDER BY e.id DESC LIMIT 1")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args, **_kwargs):
        return None  # the 302 itself is the answer; the media host does not exist


def send_hits(base: str, prefix_key: str, enclosure: str, count: int) -> None:
    opener = urllib.request.build_opener(_NoRedirect)
    for _ in range(count):
        request = urllib.request.Request(f"{base}/e/{prefix_key}/{enclosure.split('://', 1)[1]}",
                                         headers={"User-Agent": APPLE})
        try:
            opener.open(request, timeout=5)
            raise AssertionError("the prefix answered without a redirect")
        except urllib.error.HTTPError as exc:
            assert exc.code == 302, exc.code


def _hour_count(page) -> int:
    return int(page.locator("#live-hits-hour").inner_text())


def watch_the_page_move(page, base: str, show: tuple[str, str, str]) -> None:
    prefix_key, enclosure, title = show
    login(page, base)
    page.get_by_role("link", name="Live", exact=True).click()
    page.wait_for_url(f"{base}/live")
    page.locator("#live-hits-hour").wait_for(timeout=30_000)
    before = _hour_count(page)
    send_hits(base, prefix_key, enclosure, 3)
    sent = time.monotonic()
    deadline = sent + 5
    while _hour_count(page) < before + 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    moved_after = time.monotonic() - sent
    assert _hour_count(page) >= before + 3, f"the page did not move within 5 s ({before} -> {_hour_count(page)})"
    assert moved_after <= 5.0
    recent = page.locator("#live-recent").inner_text()
    assert title[:20] in recent and "Apple Podcasts" in recent and "CFNetwork" not in recent
    assert page.errors == []


def test_the_live_page_moves_with_prefix_hits_on_the_production_stack(page, production):
    with psycopg.connect(production.database_url.split("?", 1)[0].replace("+psycopg", ""), connect_timeout=5) as conn:
        show = conn.execute(SHOW_QUERY).fetchone()
    watch_the_page_move(page, production.base, show)


def test_the_live_page_moves_with_prefix_hits_embedded(page, live_server):
    with sqlite3.connect(LIVE_INSTANCES[live_server] / "podcast.db", timeout=10) as conn:
        show = conn.execute(SHOW_QUERY).fetchone()
    watch_the_page_move(page, live_server, show)
