"""Embeds in Chromium: the owner shares the overview's Top apps chart for one origin; a page served from that
origin (another port) frames it and the chart draws; a page from an origin outside the allowlist is refused by the
browser (frame-ancestors); after a revoke through the API the frame says so; a tampered link is 404."""
from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.e2e.conftest import login


@contextmanager
def partner_site():
    """A tiny site on another 127.0.0.1 port whose page frames `site.embed_url` (set once the embed exists);
    yields the site, whose `origin` is known before the embed is made."""

    class Site:
        embed_url = "about:blank"
        origin = ""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = (f'<!doctype html><html><head><title>Partner site</title></head><body><h1>Our stats</h1>'
                    f'<iframe id="embed" src="{Site.embed_url}" width="800" height="420" style="border:0"></iframe>'
                    f'</body></html>').encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Site.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site
    finally:
        server.shutdown()
        server.server_close()


def _api(method: str, url: str, key: str) -> tuple[int, dict | None]:
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            body = response.read()
            return response.status, json.loads(body) if body else None
    except urllib.error.HTTPError as exc:
        return exc.code, None


def _write_key(page, base: str) -> str:
    """A read+write API key, made on the API keys page."""
    page.goto(f"{base}/settings/api-keys")
    page.get_by_placeholder("Key name, e.g. reporting").fill("embeds e2e")
    page.get_by_label("write").check()
    page.get_by_role("button", name="Create key").click()
    return page.locator("pre.secret").inner_text(timeout=15_000).strip()


@pytest.mark.timeout(420)  # the first test of a run also waits for the app's start (the demo seeds ~1 min)
def test_embed_frames_on_an_allowed_origin_only_and_stops_when_revoked(page, browser, live_server):
    login(page, live_server)
    card = page.locator("section.chart-card", has_text="Top apps")
    card.locator(".main-svg").first.wait_for(timeout=30_000)
    with partner_site() as allowed, partner_site() as outsider:
        card.get_by_role("button", name="Share / embed").click()
        page.locator("#overview-embed-origins").fill(allowed.origin)
        page.locator("#overview-embed-title").fill("Apps our listeners use")
        page.get_by_role("button", name="Create embed").click()
        snippet = page.locator(".embed-snippet").inner_text(timeout=15_000)
        url = re.search(r'src="([^"]+)"', snippet).group(1)
        assert url.startswith(f"{live_server}/embed/")
        assert page.errors == []
        allowed.embed_url = outsider.embed_url = url

        context = browser.new_context()
        framed = context.new_page()
        console: list[str] = []
        framed.on("console", lambda msg: console.append(msg.text))
        try:
            framed.goto(allowed.origin)
            frame = framed.frame_locator("#embed")
            frame.locator("#chart .main-svg").first.wait_for(timeout=30_000)  # plotly.js drew the chart
            frame.locator("body[data-drawn=true]").wait_for(timeout=15_000)
            assert frame.get_by_text("Apps our listeners use").count() == 1
            assert frame.get_by_text("Powered by").count() == 1
            assert not any("frame-ancestors" in text for text in console), console

            framed.goto(outsider.origin)  # not in the allowlist: the browser refuses to show the frame
            framed.wait_for_function(
                "() => performance.getEntriesByType('navigation').length > 0", timeout=15_000)
            framed.wait_for_timeout(1500)
            assert any("frame-ancestors" in text for text in console), console
            child = next(f for f in framed.frames if f != framed.main_frame)
            assert child.locator("#chart").count() == 0 and child.get_by_text("Powered by").count() == 0

            key = _write_key(page, live_server)
            status, listed = _api("GET", f"{live_server}/api/v1/embeds", key)
            assert status == 200
            embed_id = next(e["id"] for e in listed["data"] if e["url"] == url)
            assert _api("DELETE", f"{live_server}/api/v1/embeds/{embed_id}", key)[0] == 204
            framed.goto(allowed.origin)
            framed.frame_locator("#embed").get_by_text("revoked").wait_for(timeout=15_000)
            assert framed.frame_locator("#embed").locator("#chart").count() == 0
        finally:
            context.close()

    page.goto(f"{live_server}/embeds")  # the list shows the embed, revoked
    row = page.locator("#embeds-table tr", has_text="Apps our listeners use")
    row.wait_for(timeout=15_000)
    assert "revoked" in row.inner_text() and "Top apps" in row.inner_text()
    assert page.errors == []

    token = url.rsplit("/", 1)[1]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    try:
        urllib.request.urlopen(url.replace(token, tampered), timeout=15)
        raise AssertionError("a tampered link opened")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404 and b"not valid" in exc.read()


def _post(url: str, key: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=15) as response:
        assert response.status == 201
        return json.loads(response.read())


@pytest.mark.timeout(420)
def test_every_embed_chart_draws_with_the_smallest_plotly_bundle(page, browser, live_server):
    """Each chart type draws in a fresh context with no console error, from the partial bundle that has its trace
    types (geo for the world map, basic for the rest) when tools/plotly is installed, else the full bundle."""
    from api.embed_assets import PARTIAL_FILES, PARTIALS_DIR

    login(page, live_server)
    key = _write_key(page, live_server)
    episode = _api("GET", f"{live_server}/api/v1/episodes", key)[1]["data"][0]["id"]
    campaigns = {c["name"]: c["id"] for c in _api("GET", f"{live_server}/api/v1/campaigns", key)[1]["data"]}
    campaign = campaigns.get("Morning Ritual Q3") or next(iter(campaigns.values()))
    cases = {"downloads_timeline": {"granularity": "week", "compare": "previous"}, "top_episodes": {},
             "top_apps": {}, "top_countries": {}, "world_map": {}, "episode_launch": {"episode": episode},
             "campaign_delivery": {"campaign": campaign}, "campaign_attribution": {"campaign": campaign}}
    installed = {name for name, file in PARTIAL_FILES.items() if (PARTIALS_DIR / file).is_file()}
    context = browser.new_context(viewport={"width": 800, "height": 420})
    try:
        for chart, filters in cases.items():
            url = _post(f"{live_server}/api/v1/embeds", key, {"chart": chart, "filters": filters})["url"]
            framed = context.new_page()
            console: list[str] = []
            framed.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
            framed.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
            framed.goto(url)
            framed.locator("body[data-drawn=true] #chart .main-svg").first.wait_for(timeout=30_000)
            wanted = "geo" if chart == "world_map" else "basic"
            bundle = framed.locator("#chart").get_attribute("data-plotly-bundle")
            assert bundle == (wanted if wanted in installed else "full"), (chart, bundle, installed)
            if chart == "world_map":
                assert framed.locator("#chart .choroplethlocation").count() > 10, chart
            else:
                assert framed.locator("#chart .point, #chart .scatterlayer path.js-line").count() > 0, chart
            assert [line for line in console if line.startswith(("error", "warning", "pageerror"))] == [], chart
            framed.close()
    finally:
        context.close()
