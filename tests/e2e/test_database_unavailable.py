"""In Chromium, with the app's Content-Security-Policy enforced: PostgreSQL goes away under a signed-in dashboard,
the next thing the user does shows the "data temporarily unavailable" banner (assets/unavailable.js reading the
callbacks' 503), and once the database is back the page recovers by itself: it reloads and shows its figures again,
without the user doing anything. The database is taken away by a TCP relay in front of the real server."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from app import create_app
from services import accounts, migrate
from services.db import Database
from tests.conftest import make_settings, require_service
from tests.e2e.conftest import login
from tests.integration.conftest import (REDIS_URL, _pg_available, _redis_available, create_database,
                                        drop_database)
from tests.tcp_relay import close_app, relayed

EMAIL, PASSWORD = "owner@relay-e2e.test", "relay-e2e-password-1"
RECOVERY_MS = 20_000  # the banner polls /readyz every 3 s, then reloads the page


@pytest.fixture
def relayed_app(tmp_path):
    for problem in (_pg_available(), _redis_available()):
        require_service(problem is None, problem or "")
    name, url = create_database()
    migrate.upgrade(url)
    owner = Database(url, "podcast_app")
    accounts.create_tenant(owner, "relay-e2e", "Relay E2E")
    accounts.create_user(owner, EMAIL, "relay-e2e", "owner", password=PASSWORD)
    owner.dispose()
    try:
        with relayed(url) as (relay, through):
            server = create_app(make_settings(tmp_path, DATABASE_URL=through, REDIS_URL=REDIS_URL))
            http = make_server("127.0.0.1", 0, server, threaded=True)
            thread = threading.Thread(target=http.serve_forever, name="relayed-app", daemon=True)
            thread.start()
            try:
                yield f"http://127.0.0.1:{http.server_port}", relay
            finally:
                http.shutdown()
                thread.join(timeout=10)
                close_app(server)
    finally:
        drop_database(name)


def test_the_dashboard_says_data_is_unavailable_and_recovers_by_itself(relayed_app, csp_page):
    base, relay = relayed_app
    page = csp_page
    login(page, base, EMAIL, PASSWORD)
    page.locator("#overview-downloads-chart").wait_for()
    assert page.locator("#data-unavailable").count() == 0

    relay.stop()
    try:
        page.get_by_role("link", name="Audience").first.click()  # the page's content comes from a callback
        banner = page.locator("#data-unavailable")
        banner.wait_for()
        assert banner.get_attribute("role") == "alert"
        assert "Data temporarily unavailable" in banner.inner_text()
    finally:
        relay.start()

    page.locator("#data-unavailable").wait_for(state="detached", timeout=RECOVERY_MS)  # reloaded by itself
    page.locator("#audience-map").wait_for(timeout=RECOVERY_MS)
    assert page.url.startswith(f"{base}/audience")
