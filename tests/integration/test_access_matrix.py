"""The access matrix, generated from the app's own registries, on PostgreSQL with the demo network: every Flask route,
every Dash page and every Dash callback, under each role (owner, admin, editor, viewer, this sponsor's user, another
sponsor's user, another tenant's owner, anonymous).

- A route or callback added without an entry here fails `test_every_route_and_callback_has_an_entry`.
- Pages: anonymous visitors are sent to the login page; every signed-in role gets the page shell.
- Callbacks are called as the browser's first load calls them (the layouts' own initial values): anonymous gets 401;
  no role gets a server error; another tenant's owner never sees a name of the demo network's shows, episodes,
  sponsors or campaigns, and a sponsor's user never sees the other sponsor or its campaigns.
- Flask routes: anonymous gets what the route's class allows; the signed-in roles never get a server error; routes
  that take another tenant's ids refuse them (the /api/v1 routes: tests/integration/test_api_schemathesis.py).
"""
from __future__ import annotations

import json
import re

import dash
import pytest
from sqlalchemy import select

from app import create_app
from services import accounts
from services.models import Campaign, Episode, Podcast, Sponsor
from tests.conftest import DEMO_PASSWORD, make_settings
from tests.integration.conftest import create_database, drop_database
from tests.oidc_provider import OidcProvider

ROLES = ("owner", "admin", "editor", "viewer", "sponsor_own", "sponsor_other", "other_tenant", "anonymous")
PASSWORD = "password-123"
OWN_SPONSOR, OTHER_SPONSOR = "Northwind Coffee", "Lumen VPN"

# Flask routes by endpoint: who may call them without a session.
#   public   - answered to anyone (sign-in pages, tracking, embeds by token, health, assets)
#   session  - needs a signed-in session: anonymous is redirected to /login (or gets 401 on JSON routes)
#   api      - /api/v1: a key (or, for exports, a session); without either, 401 (fuzzed per role and tenant by
#              test_api_schemathesis.py)
#   dash     - Dash's own machinery (its callbacks are checked one by one below)
ROUTES = {
    "/": "session", "/<path:path>": "session",
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": "public",
    "/_dash-dependencies": "dash", "/_dash-layout": "dash", "/_dash-update-component": "dash",
    "/_favicon.ico": "public", "/_reload-hash": "dash",
    "mfa.security_page": "session", "mfa.disable": "session", "mfa.enable": "session", "mfa.regenerate": "session",
    "mfa.delete_account": "session",
    "sessions.sign_out_everywhere": "session",
    "api_unknown.unknown_api_path": "api", "api_docs.docs_page": "public", "api_docs.openapi_json": "public",
    "privacy.download_export": "session",
    "_dash_assets.static": "public", "static": "public",
    "tracking.prefix_redirect": "public", "attribution.tracking_link": "public",
    "attribution.conversion_pixel": "public",
    "embed.show_embed": "public", "embed.embed_js": "public", "embed.plotly_js": "public",
    "observability.healthz": "public", "observability.readyz": "public", "observability.metrics": "public",
    "auth.login_form": "public", "auth.login": "public", "auth.logout": "public",
    "account_links.forgot": "public", "account_links.invite": "public", "account_links.reset": "public",
    "mfa.mfa_form": "public", "mfa.mfa_submit": "public",
    "sso.start": "public", "sso.callback": "public",
}
API_PREFIXES = ("api_v1", "api_exports")
# Signing out ends the client's session: these are called by anonymous clients only here (tests/unit/test_sessions.py
# and test_auth_routes.py sign out signed-in users).
SIGN_OUTS = ("auth.logout", "sessions.sign_out_everywhere")

# Callbacks with MATCH inputs act on one row the user clicked; they are checked by their pages' own tests.
MATCH_CALLBACKS_CHECKED_ELSEWHERE = 5


def _endpoint_class(rule) -> str | None:
    if rule.endpoint.split(".")[0].startswith(API_PREFIXES):
        return "api"
    return ROUTES.get(rule.endpoint, ROUTES.get(rule.rule))


@pytest.fixture(scope="module")
def world(seeded_pg_template, tmp_path_factory):
    name, url = create_database(seeded_pg_template[0])  # the demo tenant already seeded
    provider = OidcProvider().__enter__()  # single sign-on on, so its routes answer as in a deployment that uses it
    server = create_app(make_settings(tmp_path_factory.mktemp("matrix"), DATABASE_URL=url,
                                      API_ANON_RATE_LIMIT="100000/minute", **provider.settings_env()))
    server.config["TESTING"] = True
    server.config["PROPAGATE_EXCEPTIONS"] = False  # a failing callback answers 500, as it would to a browser
    db = server.extensions["podcast_platform"].db
    tenant = accounts.get_tenant_by_slug(db, "demo")
    with db.session(tenant.id) as s:
        sponsors = dict(s.execute(select(Sponsor.name, Sponsor.id)).all())
        campaigns = s.execute(select(Campaign.name, Sponsor.name).join(Sponsor, Sponsor.id == Campaign.sponsor_id)
                              ).all()
        shows = list(s.scalars(select(Podcast.title)))
        episodes = list(s.scalars(select(Episode.title).order_by(Episode.id).limit(40)))
        ids = {"campaign_id": s.scalar(select(Campaign.id).order_by(Campaign.id)),
               "podcast_id": s.scalar(select(Podcast.id).order_by(Podcast.id)),
               "episode_id": s.scalar(select(Episode.id).order_by(Episode.id))}
    accounts.create_tenant(db, "acme", "Acme")
    logins = {"owner": ("demo@example.com", DEMO_PASSWORD)}
    for role in ("admin", "editor", "viewer"):
        accounts.create_user(db, f"{role}@demo.test", "demo", role, password=PASSWORD)
        logins[role] = (f"{role}@demo.test", PASSWORD)
    accounts.create_user(db, "coffee@demo.test", "demo", "sponsor", password=PASSWORD, sponsor_id=sponsors[OWN_SPONSOR])
    accounts.create_user(db, "vpn@demo.test", "demo", "sponsor", password=PASSWORD, sponsor_id=sponsors[OTHER_SPONSOR])
    accounts.create_user(db, "owner@acme.test", "acme", "owner", password=PASSWORD)
    logins.update(sponsor_own=("coffee@demo.test", PASSWORD), sponsor_other=("vpn@demo.test", PASSWORD),
                  other_tenant=("owner@acme.test", PASSWORD))
    clients = {"anonymous": server.test_client()}
    for role, (email, password) in logins.items():
        clients[role] = server.test_client()
        assert clients[role].post("/login", data={"email": email, "password": password}).status_code == 302
    # Names the demo network owns; another tenant must never see them (short or generic ones would match by chance).
    own_campaigns = {c for c, s in campaigns if s == OWN_SPONSOR}
    demo_names = {n for n in [*shows, *episodes, *sponsors, *(c for c, _ in campaigns)] if len(n) >= 8}
    markers = {"other_tenant": demo_names,
               "sponsor_own": {OTHER_SPONSOR} | {c for c, s in campaigns if s == OTHER_SPONSOR and len(c) >= 6},
               "sponsor_other": {OWN_SPONSOR} | {c for c in own_campaigns if len(c) >= 6}}
    assert len(markers["other_tenant"]) > 20 and len(markers["sponsor_other"]) > 1
    yield {"app": server, "dash": server.extensions["podcast_dash"], "clients": clients,
           "markers": markers, "ids": ids}
    db.dispose()
    drop_database(name)
    provider.__exit__(None, None, None)


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            yield from _walk(child)


def _initial_values(dash_app, ids: dict) -> dict[tuple[str, str], object]:
    """(component id, prop) -> the value a page's layout starts with, as the browser would send it first."""
    values = {}
    for page in dash.page_registry.values():
        layout = page["layout"]
        try:
            tree = layout(**{k: str(v) for k, v in ids.items()}) if callable(layout) else layout
        except Exception:  # noqa: BLE001 - a layout that needs a request is read without its defaults
            continue
        for node in _walk(tree):
            node_id = getattr(node, "id", None)
            if isinstance(node_id, str):
                for prop in node._prop_names:
                    value = getattr(node, prop, None)
                    if value is not None and prop != "children":
                        values[(node_id, prop)] = value.to_plotly_json() if hasattr(value, "to_plotly_json") \
                            else value
    return values


# Dash's location component always carries the browser's address; the first load is the home page.
LOCATION = {("_pages_location", "pathname"): "/", ("_pages_location", "search"): "",
            ("_pages_location", "href"): "http://localhost/", ("_pages_location", "hash"): ""}


def _spec(item: dict, values: dict):
    component_id = item["id"]
    if component_id.startswith("{"):  # a pattern-matching id: ALL matches nothing on a first load
        return []
    return {"id": component_id, "property": item["property"], "value": values.get((component_id, item["property"]))}


def _outputs(key: str) -> list[dict]:
    parts = key[2:-2].split("...") if key.startswith("..") else [key]
    out = []
    for part in parts:
        component_id, prop = part.rsplit(".", 1)
        out.append([] if component_id.startswith("{") else {"id": component_id, "property": prop.split("@")[0]})
    return out


def _callbacks(world) -> list[tuple[str, dict]]:
    return [(key, cb) for key, cb in world["dash"].callback_map.items()
            if cb.get("callback") is not None and '"MATCH"' not in json.dumps(cb.get("inputs", []))
            and "MATCH" not in key]


def test_every_route_and_callback_has_an_entry(world):
    missing = [rule.rule for rule in world["app"].url_map.iter_rules() if _endpoint_class(rule) is None]
    assert missing == [], f"routes without an entry in the access matrix: {missing}"
    match = [key for key, cb in world["dash"].callback_map.items()
             if '"MATCH"' in json.dumps(cb.get("inputs", [])) or "MATCH" in key]
    assert len(match) == MATCH_CALLBACKS_CHECKED_ELSEWHERE, match
    assert len(_callbacks(world)) >= 100 and len(dash.page_registry) >= 25


@pytest.mark.timeout(600)
def test_every_callback_under_every_role(world):
    values = {**_initial_values(world["dash"], world["ids"]), **LOCATION}
    failures, calls = [], 0
    for key, cb in _callbacks(world):
        outputs = _outputs(key)
        body = {"output": key, "outputs": outputs if key.startswith("..") else outputs[0],
                "inputs": [_spec(i, values) for i in cb["inputs"]], "state": [_spec(s, values) for s in cb["state"]],
                "changedPropIds": []}
        for role in ROLES:
            response = world["clients"][role].post("/_dash-update-component", json=body)
            calls += 1
            text = response.get_data(as_text=True)
            if role == "anonymous":
                if response.status_code != 401:
                    failures.append(f"{key} anonymous: {response.status_code}")
                continue
            if response.status_code >= 500:
                failures.append(f"{key} {role}: {response.status_code} {text[:200]}")
            leaked = sorted(m for m in world["markers"].get(role, ()) if m in text)
            if leaked:
                failures.append(f"{key} {role}: sees {leaked[:3]}")
    print(f"\naccess matrix: {len(_callbacks(world))} callbacks x {len(ROLES)} roles = {calls} calls")
    assert not failures, "\n".join(failures)


def _page_content_body(world, path: str) -> dict:
    """The pages callback's request as the browser sends it on arriving at `path`."""
    key = next(k for k in world["dash"].callback_map if "_pages_content.children" in k)
    cb = world["dash"].callback_map[key]
    location = {**LOCATION, ("_pages_location", "pathname"): path, ("_pages_location", "href"): f"http://localhost{path}"}
    return {"output": key, "outputs": _outputs(key), "inputs": [_spec(i, location) for i in cb["inputs"]],
            "state": [_spec(s, location) for s in cb["state"]], "changedPropIds": ["_pages_location.pathname"]}


def test_every_page_under_every_role(world):
    failures = []
    for page in dash.page_registry.values():
        path = re.sub(r"<(\w+)>", lambda m: str(world["ids"].get(m.group(1), 1)), page.get("path_template") or
                      page["path"])
        for role in ROLES:
            response = world["clients"][role].get(path)
            expected = (302,) if role == "anonymous" else (200,)
            content = world["clients"][role].post("/_dash-update-component", json=_page_content_body(world, path))
            if content.status_code != (401 if role == "anonymous" else 200):
                failures.append(f"{path} {role}: its content answered {content.status_code}")
            if response.status_code not in expected:
                failures.append(f"{path} {role}: {response.status_code}")
            elif role == "anonymous" and not response.headers["Location"].startswith("/login"):
                failures.append(f"{path} anonymous: sent to {response.headers['Location']}")
    assert not failures, "\n".join(failures)


def _fill(rule: str, ids: dict) -> str:
    values = {"campaign_id": ids["campaign_id"], "podcast_id": ids["podcast_id"], "episode_id": ids["episode_id"],
              "sponsor_id": 1, "embed_id": 1, "endpoint_id": 1, "name": "episodes", "token": "not-a-token",
              "code": "nosuchcode", "file_name": "plotly-basic.0000.min.js", "filename": "style.css", "path": "x",
              "rest": "x", "_rest": "x/example.com/a.mp3", "package_name": "dash",
              "fingerprinted_path": "dash-renderer/build/dash_renderer.min.js"}
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values.get(m.group(1), 1)), rule)


def test_every_flask_route_under_every_role(world):
    failures, checked = [], 0
    for rule in world["app"].url_map.iter_rules():
        kind = _endpoint_class(rule)
        if kind == "dash":
            continue
        url = _fill(rule.rule, world["ids"])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for role in ROLES:
                if rule.endpoint in SIGN_OUTS and role != "anonymous":
                    continue
                client = world["clients"][role]
                response = client.open(url, method=method, json={} if method != "GET" else None)
                checked += 1
                status = response.status_code
                if status >= 500:
                    failures.append(f"{method} {url} {role}: {status}")
                if role == "anonymous" and kind == "session" and not (
                        status == 401 or (status == 302 and response.headers["Location"].startswith("/login"))):
                    failures.append(f"{method} {url} anonymous: {status} (needs a session)")
                if kind == "api" and role in ("anonymous", "other_tenant") and url.startswith("/api/v1/") \
                        and "exports" not in url and rule.rule not in ("/api/v1/openapi.json",) and status not in (
                        401, 403, 404, 405):
                    failures.append(f"{method} {url} {role}: {status} (an API key is required)")
    print(f"\naccess matrix: {checked} route x role requests")
    assert not failures, "\n".join(failures)
