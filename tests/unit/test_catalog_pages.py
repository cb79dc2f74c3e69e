"""Podcasts, settings and methodology pages through Dash's own HTTP routes, per role and tenant."""
import json
from pathlib import Path

import pytest

from services import accounts
from tests.dash_client import call_callback

FEED = Path(__file__).resolve().parents[1] / "data" / "feeds" / "real_feeds" / "akupila_node-podcast-parser__neo4j.xml"


def _login(app, db, email, role, tenant="demo"):
    accounts.create_user(db, email, tenant, role, password="password-1")
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": "password-1"}).status_code == 302
    return client


def _podcasts(client, clicks=None, url=None):
    return call_callback(client, [("podcasts-table", "children"), ("podcasts-message", "children")],
                         [("podcasts-url", "pathname", "/podcasts"), ("podcasts-import", "n_clicks", clicks)],
                         [("podcasts-feed", "value", url)], ["podcasts-import.n_clicks"] if clicks else [])


def test_podcasts_page_lists_shows_with_prefix_urls(demo_client):
    status, out = _podcasts(demo_client)
    table = json.dumps(out["podcasts-table"]["children"])
    assert status == 200 and "Signal & Noise" in table and "/e/demo" in table


def test_import_feed_from_the_page(app, db, demo_client):
    status, out = _podcasts(demo_client, 1, str(FEED))
    assert "Imported" in json.dumps(out["podcasts-message"]["children"])
    assert "Neo4j" in json.dumps(out["podcasts-table"]["children"]) or "neo4j" in json.dumps(out).lower()
    status, out = _podcasts(demo_client, 2, "")
    assert "Enter the feed" in json.dumps(out["podcasts-message"]["children"])


def test_viewer_cannot_import_and_other_tenant_sees_only_its_own(app, db):
    viewer = _login(app, db, "viewer@demo.test", "viewer")
    _, out = _podcasts(viewer, 1, str(FEED))
    assert "may not do this" in json.dumps(out["podcasts-message"]["children"])
    accounts.create_tenant(db, "acme", "Acme")
    acme = _login(app, db, "owner@acme.test", "owner", "acme")
    _, out = _podcasts(acme)
    assert "Signal" not in json.dumps(out) and "No podcasts yet" in json.dumps(out)
    sponsor_ctx_client = app.test_client()
    accounts.create_user(db, "s@demo.test", "demo", "sponsor", password="password-1", sponsor_id=1)
    sponsor_ctx_client.post("/login", data={"email": "s@demo.test", "password": "password-1"})
    _, out = _podcasts(sponsor_ctx_client)
    assert "Signal" not in json.dumps(out) and "sponsor users see only" in json.dumps(out)


def _settings(client, clicks=None, window=None, tz=None):
    return call_callback(client, [("settings-window", "value"), ("settings-timezone", "value"),
                                  ("settings-message", "children")],
                         [("settings-save", "n_clicks", clicks)],
                         [("settings-window", "value", window), ("settings-timezone", "value", tz)],
                         ["settings-save.n_clicks"] if clicks else [])


@pytest.mark.parametrize("role,allowed", [("owner", True), ("admin", True), ("editor", False), ("viewer", False)])
def test_settings_by_role(app, db, role, allowed):
    client = _login(app, db, f"{role}@demo.test", role)
    _, out = _settings(client)
    assert out["settings-window"]["value"] == "calendar"
    _, out = _settings(client, 1, "last-touch", "Europe/Berlin")
    assert (accounts.get_tenant_by_slug(db, "demo").dedupe_window == "last-touch") is allowed
    if not allowed:
        assert "may not do this" in json.dumps(out)


def test_settings_rejects_an_unknown_time_zone(demo_client, db):
    _, out = _settings(demo_client, 1, "calendar", "Mars/Olympus")
    assert "unknown time zone" in json.dumps(out)
    assert accounts.get_tenant_by_slug(db, "demo").timezone == "UTC"


def test_methodology_states_the_tenants_rules(app, db, demo_client):
    accounts.configure_tenant(db, "demo", dedupe_window="first-touch")
    status, out = call_callback(demo_client, [("methodology-body", "children")],
                                [("methodology-url", "pathname", "/methodology")])
    text = json.dumps(out)
    assert status == 200 and "first-touch" in text and "8008a31" in text and "apple_watch" in text
    assert "Plus 8 entries of our own (4 in bots, 1 in libraries, 3 in devices)" in text and "node (fetch)" in text
    assert "IPv6" in text and "bytes 0-1" in text
