"""Benchmark: an embed's first render in headless Chromium, and the embed endpoint's throughput against the dashboard
callback it shares, on the dashboards bench's data (bench/bench_dashboards.py builds it) on PostgreSQL.

Run from the project root:
    python bench/bench_embed.py [--rows 10000000] [--seconds 10] [--runs 3] [--no-browser] [--keep-db] [--reuse DB]
A quick run: python bench/bench_embed.py --rows 100000 --seconds 5

What it does:
  1. builds a fresh database as bench_dashboards.build does (5 tenants, 2,000 episodes, --rows counted downloads over
     365 days, rollups refreshed), unless --reuse names one a --keep-db run left;
  2. as the first tenant's owner, creates a downloads_timeline embed (last 90 days, by day, no comparison);
  3. throughput, alternating one-second slices between the two so load from elsewhere hits both alike, for --seconds
     each, sequential requests in this process:
       a. GET /embed/<token> through the Flask test client: the whole endpoint (token check, embed lookup, the
          overview's downloads_timeline service, figure, HTML, view count);
       b. the overview's "downloads over time" callback (callbacks/overview.update_timeline) for the same view,
          logged in as the owner: the dashboard path the embed shares;
     prints requests/s of both and their ratio (the same-run baseline is the callback);
  4. starts the app as a server and times, --runs times, navigation start -> the embed's chart drawn (plotly.js,
     served by the app, has drawn: body[data-drawn=true]) in headless Chromium: in a fresh browser context (empty
     cache: the page's plotly.js bundle is loaded and parsed: the 1.2 MB basic partial bundle when tools/plotly is
     installed, else the plotly package's 4.8 MB full one; api/embed_assets.py), then reloaded there (plotly.js
     cached); and, as the same-run baselines, floor pages on another local port that load a plotly.js bundle from
     the app and draw an empty plot (fresh context): the bundle the embed page loads, and the plotly package's full
     bundle (what every embed loaded before the partial bundles); prints each (and, for the empty cache, when the
     page's first byte came (the page streams: that is its head, sent before the chart is read, and it names
     plotly.js), when its last byte came (the chart) and when plotly.js's download ended), the bundle served, and
     the ratios embed/floor;
  5. drops the database (unless --keep-db or --reuse).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import bench_dashboards as data  # noqa: E402  (the dashboards bench's data and helpers)
from api import embed_assets  # noqa: E402
from api.embed import BUNDLES  # noqa: E402

SECRET = "bench-secret-key-0123456789"
FILTERS = {"period": "last_90_days", "granularity": "day", "compare": "none"}


def make_app(name: str, instance: str):
    from app import create_app
    from services.settings import load_settings

    settings = load_settings({"INSTANCE_PATH": instance, "SECRET_KEY": SECRET, "LOG_LEVEL": "WARNING",
                              "DATABASE_URL": data.APP_URL.format(name=name)})
    return create_app(settings)


def owner_and_embed(server):
    """The first tenant's owner, and a new downloads_timeline embed of that tenant with its token."""
    from sqlalchemy import select, text

    from services.sharing import store
    from services.models import User
    from services.tenancy import TenantContext

    db = server.extensions["podcast_platform"].db
    with db.session(system=True) as s:
        user = s.scalar(select(User).where(User.email == "owner0@bench.test"))
        tenant_id = s.execute(text("SELECT id FROM tenants WHERE slug = 'bench0'")).scalar()
    ctx = TenantContext(tenant_id, "owner", user_id=user.id)
    info = store.create_embed(db, ctx, {"chart": "downloads_timeline", "filters": FILTERS})
    return user, store.embed_token(info.id, server.extensions["podcast_platform"].settings.embed_keys)


def throughput(server, user, token: str, seconds: float) -> tuple[float, float, int]:
    """(embed requests/s, callback requests/s, embed bytes) over alternating one-second slices."""
    from flask_login import login_user

    from api.auth import SessionUser
    from callbacks import overview

    client = server.test_client()

    def embed():
        response = client.get(f"/embed/{token}")
        assert response.status_code == 200 and b'id="figure"' in response.data, response.status_code
        return len(response.data)

    def callback():
        with server.test_request_context("/_dash-update-component", method="POST"):
            login_user(SessionUser(user.id, user.email, user.name))
            figure = overview.update_timeline("90d", None, None, "none", None, "day")
            assert len(figure.data) >= 1

    size = embed()
    callback()  # warm both (imports, plans)
    counts, spent = [0, 0], [0.0, 0.0]
    while min(spent) < seconds:
        for which, call in enumerate((embed, callback)):
            start = time.perf_counter()
            while time.perf_counter() - start < 1.0:
                call()
                counts[which] += 1
            spent[which] += time.perf_counter() - start
    return counts[0] / spent[0], counts[1] / spent[1], size


@contextmanager
def floor_page(plotly_url: str):
    """A page on another local port that loads the app's plotly.min.js and draws an empty plot: the floor of any
    embed's first render (the same-run baseline of the browser figures). Yields its URL."""
    body = (f'<!doctype html><html><body><div id="chart"></div><script src="{plotly_url}"></script><script>'
            'Plotly.newPlot("chart", [], {}).then(function () {document.body.setAttribute("data-drawn", "true");});'
            '</script></body></html>').encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def first_render(name: str, token: str, runs: int, bundle_url: str, full_url: str) -> dict[str, list[float]]:
    """Seconds from navigation start to drawn, per run: the embed in a fresh context (empty cache), the embed
    reloaded in that context (plotly.js cached), and the floor pages (the embed's plotly.js bundle, then the full
    one, each drawing an empty plot in a fresh context), alternating run by run."""
    from playwright.sync_api import sync_playwright

    port = data._free_port()
    instance = tempfile.TemporaryDirectory()  # removed when the server stops
    env = {**os.environ, "DATABASE_URL": data.APP_URL.format(name=name), "INSTANCE_PATH": instance.name,
           "SECRET_KEY": SECRET, "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    code = f"from app import create_app; create_app().run(host='127.0.0.1', port={port}, threaded=True)"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    drawn = "body[data-drawn=true]"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        seconds: dict[str, list[float]] = {"cold": [], "warm": [], "floor": [], "full": [], "html": [], "end": [],
                                           "js": []}
        with sync_playwright() as pw, floor_page(base + bundle_url) as floor, floor_page(base + full_url) as full:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 900, "height": 450})
                page = context.new_page()
                page.goto(f"{base}/embed/{token}", wait_until="commit")
                page.wait_for_selector(f"{drawn} #chart .main-svg", timeout=60_000)
                seconds["cold"].append(page.evaluate("performance.now()") / 1000)
                html, end, js = page.evaluate(  # where the empty-cache time went: the page's head, its end, plotly.js
                    "[performance.getEntriesByType('navigation')[0].responseStart, performance.getEntriesByType("
                    "'navigation')[0].responseEnd, performance.getEntriesByType('resource').find(e => "
                    "e.name.includes('/plotly/')).responseEnd]")
                seconds["html"].append(html / 1000)
                seconds["end"].append(end / 1000)
                seconds["js"].append(js / 1000)
                page.goto(f"{base}/embed/{token}", wait_until="commit")
                page.wait_for_selector(f"{drawn} #chart .main-svg", timeout=60_000)
                seconds["warm"].append(page.evaluate("performance.now()") / 1000)
                context.close()
                for key, url in (("floor", floor), ("full", full)):
                    context = browser.new_context(viewport={"width": 900, "height": 450})
                    page = context.new_page()
                    page.goto(url, wait_until="commit")
                    page.wait_for_selector(drawn, timeout=60_000)
                    seconds[key].append(page.evaluate("performance.now()") / 1000)
                    context.close()
            browser.close()
        return seconds
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        instance.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--reuse", metavar="DB", help="a database a --keep-db run left (of --rows downloads)")
    args = parser.parse_args()
    name = args.reuse or data.build(args.rows, datetime.now(UTC).date())[0]
    try:
        with tempfile.TemporaryDirectory() as instance:
            server = make_app(name, instance)
            user, token = owner_and_embed(server)
            bundles = server.extensions[BUNDLES]
            bundle = embed_assets.bundle_for(bundles, "downloads_timeline")
            embed_rps, callback_rps, size = throughput(server, user, token, args.seconds)
            server.extensions["podcast_platform"].db.dispose()
        render = None if args.no_browser else first_render(name, token, args.runs, bundle.url, bundles["full"].url)
    finally:
        if not args.keep_db and not args.reuse:
            data.drop_database(name)
    print(f"\nEmbed: downloads_timeline, one tenant of 5, last 90 days by day, {args.rows:,} downloads in all")
    print(f"  GET /embed/<token> (whole endpoint, {size:,} bytes of HTML):   {embed_rps:8.1f} requests/s")
    print(f"  overview downloads-over-time callback (same service):      {callback_rps:8.1f} requests/s")
    print(f"  ratio embed/callback: {embed_rps / callback_rps:.2f} (same run, alternating 1 s slices, "
          f"{args.seconds:g} s each)")
    if render:
        cold, warm, floor = (statistics.median(render[k]) for k in ("cold", "warm", "floor"))
        print(f"  first render in headless Chromium, navigation start -> chart drawn, seconds per run (plotly.js "
              f"bundle: {bundle.name}, {bundle.path.stat().st_size:,} bytes; full: "
              f"{bundles['full'].path.stat().st_size:,} bytes):")
        for label, key in (("embed, empty cache", "cold"), ("  of which: the page's first byte", "html"),
                           ("  of which: the page's last byte", "end"), ("  of which: plotly.js downloaded", "js"),
                           ("embed, plotly.js cached", "warm"),
                           ("floor: its bundle + empty plot, empty cache", "floor"),
                           ("floor: full bundle + empty plot, empty cache", "full")):
            print(f"    {label:44} " + ", ".join(f"{v:.2f}" for v in render[key])
                  + f" (median {statistics.median(render[key]):.2f})")
        print(f"  ratio embed/floor (medians, same run): empty cache {cold / floor:.2f}, cached {warm / floor:.2f}; "
              f"embed empty cache / full-bundle floor {cold / statistics.median(render['full']):.2f}")

if __name__ == "__main__":
    main()
