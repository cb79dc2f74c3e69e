"""Cross-site request forgery: a forged cross-origin POST to login, logout, a Dash callback and a page's form (the API
keys page's "Create key") is refused 403 and changes nothing; the same request from the app's own origin passes.
API-key requests and safe methods are not checked."""
from __future__ import annotations

import json
import shutil

import pytest

from api.csrf import cross_site_reason
from jobs import context as job_context
from services import accounts, api_keys, demo
from services.tenancy import TenantContext
from tests.conftest import DEMO_PASSWORD, make_settings
from tests.dash_client import call_callback, call_overview

OWN = "http://localhost"  # the test client's host
PUBLIC = "https://stats.example.com"
EVIL = "https://evil.example.com"
KEY_OUTPUTS = [("apikeys-table", "children"), ("apikeys-new-key", "children"), ("apikeys-message", "children")]


@pytest.fixture(scope="module")
def world(tmp_path_factory, seeded_sqlite):
    from app import create_app

    instance = tmp_path_factory.mktemp("csrf")
    shutil.copy(seeded_sqlite, instance / "podcast.db")
    server = create_app(make_settings(instance, PUBLIC_BASE_URL=PUBLIC))
    server.config["TESTING"] = True
    db = server.extensions["podcast_platform"].db
    tenant = accounts.get_tenant_by_slug(db, "demo").id
    _, write_key = api_keys.create_api_key(db, TenantContext(tenant, "owner"), "csrf", ("read", "write"))
    yield {"app": server, "db": db, "tenant": tenant, "write_key": write_key}
    db.dispose()
    job_context.reset()


def logged_in(world, **headers):
    """A signed-in client whose every later request carries `headers` (as a browser on some page would send)."""
    client = world["app"].test_client()
    assert client.post("/login", data={"email": demo.DEMO_EMAIL, "password": DEMO_PASSWORD}).status_code == 302
    client.environ_base.update({"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()})
    return client


FORGED = [{"Origin": EVIL}, {"Origin": "null"}, {"Referer": f"{EVIL}/page"},
          {"Origin": OWN, "Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
          {"Origin": "http://localhost.evil.example.com"}]
GENUINE = [{"Origin": OWN}, {"Origin": PUBLIC}, {"Referer": f"{OWN}/login?next=/"},
           {"Origin": OWN, "Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {}]


@pytest.mark.parametrize("headers", FORGED)
def test_a_forged_login_is_refused_and_signs_no_one_in(world, headers):
    client = world["app"].test_client()
    response = client.post("/login", data={"email": demo.DEMO_EMAIL, "password": DEMO_PASSWORD}, headers=headers)
    assert response.status_code == 403 and b"cross-site request refused" in response.data
    assert "Set-Cookie" not in response.headers
    assert client.get("/_dash-layout").status_code == 401


@pytest.mark.parametrize("headers", GENUINE)
def test_a_login_from_the_apps_own_page_passes(world, headers):
    client = world["app"].test_client()
    response = client.post("/login", data={"email": demo.DEMO_EMAIL, "password": DEMO_PASSWORD}, headers=headers)
    assert response.status_code == 302
    assert client.get("/_dash-layout").status_code == 200


def test_a_forged_logout_is_refused_and_the_session_stays(world):
    client = logged_in(world)
    assert client.post("/logout", headers={"Origin": EVIL}).status_code == 403
    assert client.post("/logout", headers={"Referer": f"{EVIL}/"}).status_code == 403
    assert client.get("/_dash-layout").status_code == 200
    assert client.post("/logout", headers={"Origin": OWN}).status_code == 302
    assert client.get("/_dash-layout").status_code == 401


@pytest.mark.parametrize("headers", FORGED)
def test_a_forged_dash_callback_is_refused(world, headers):
    status, out = call_overview(logged_in(world, **headers), 30)
    assert (status, out) == (403, None)


@pytest.mark.parametrize("headers", GENUINE)
def test_a_dash_callback_from_the_apps_own_page_answers(world, headers):
    status, out = call_overview(logged_in(world, **headers), 30)
    assert status == 200 and out["overview-downloads-chart"]["figure"]["data"]


def create_key(client, name: str):
    return call_callback(client, KEY_OUTPUTS, [("apikeys-create", "n_clicks", 1), []],
                         [("apikeys-name", "value", name), ("apikeys-scopes", "value", ["read", "write"])],
                         ["apikeys-create.n_clicks"])


def key_names(world) -> set[str]:
    return {key.name for key in api_keys.list_api_keys(world["db"], TenantContext(world["tenant"], "owner"))}


def test_a_forged_form_post_creates_nothing(world):
    """The API keys page's form, posted from another site with the victim's session: refused, no key made."""
    assert create_key(logged_in(world, Origin=EVIL), "forged") == (403, None)
    assert create_key(logged_in(world, **{"Sec-Fetch-Site": "cross-site"}), "forged too") == (403, None)
    assert not {"forged", "forged too"} & key_names(world)
    status, out = create_key(logged_in(world, Origin=OWN), "genuine")
    assert status == 200 and "pk_" in json.dumps(out["apikeys-new-key"]["children"])
    assert "genuine" in key_names(world)


def test_api_key_requests_are_not_checked_but_cookie_ones_are(world):
    client = world["app"].test_client()
    body = {"chart": "top_apps", "filters": {}}
    with_key = client.post("/api/v1/embeds", json=body,
                           headers={"Authorization": f"Bearer {world['write_key']}", "Origin": EVIL})
    assert with_key.status_code == 201  # a key is never attached by a browser on its own: no forgery to fear
    session = logged_in(world)
    refused = session.post("/api/v1/embeds", json=body, headers={"Origin": EVIL})
    assert refused.status_code == 403 and refused.content_type == "application/problem+json"


def test_safe_methods_and_tracking_are_not_checked(world):
    client = logged_in(world, Origin=EVIL, **{"Sec-Fetch-Site": "cross-site"})
    assert client.get("/login").status_code == 302  # signed in: straight on
    assert client.get("/_dash-layout").status_code == 200
    assert client.get("/px.gif?sponsor=1").status_code != 403
    assert client.get("/l/nothing").status_code != 403


@pytest.mark.parametrize("method,origin,referer,fetch_site,expected", [
    ("GET", EVIL, None, "cross-site", None),
    ("POST", None, None, None, None),
    ("POST", "http://app.test", None, None, None),
    ("POST", "http://APP.test", None, None, None),
    ("POST", "http://app.test:8443", None, None, "foreign Origin"),
    ("POST", "http://app.test", f"{EVIL}/", None, None),  # Origin wins over Referer
    ("POST", None, "http://app.test/x", "same-origin", None),
    ("POST", None, "javascript:alert(1)", None, "foreign Referer"),
    ("DELETE", "null", None, None, "foreign Origin"),
    ("PATCH", None, None, "cross-site", "Sec-Fetch-Site cross-site"),
    ("PUT", None, None, "same-site", "Sec-Fetch-Site same-site"),
])
def test_cross_site_reason(method, origin, referer, fetch_site, expected):
    assert cross_site_reason(method, origin, referer, fetch_site, {"app.test"}) == expected
