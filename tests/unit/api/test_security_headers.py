"""Security headers on every response: the Content-Security-Policy (with every inline script of Dash's pages hashed,
nothing from another origin, frame-ancestors as api/framing.py decides), nosniff, the referrer and permissions
policies, HSTS on HTTPS only (a trusted proxy's X-Forwarded-Proto counts, anyone else's does not), and the
METRICS_TOKEN wall on /metrics."""
from __future__ import annotations

import re
import shutil

import pytest

from api.framing import DENY, frame_ancestors_of
from api.security_headers import HSTS, content_security_policy, script_hash, with_frame_ancestors
from jobs import context as job_context
from services import accounts, demo
from services.sharing import store
from services.tenancy import TenantContext
from tests.conftest import DEMO_PASSWORD, make_settings

PROXY = "10.0.0.7"
METRICS_TOKEN = "scrape-token-0123456789"
INLINE_SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.S)


@pytest.fixture(scope="module")
def secured(tmp_path_factory, seeded_sqlite):
    from app import create_app

    instance = tmp_path_factory.mktemp("security-headers")
    shutil.copy(seeded_sqlite, instance / "podcast.db")
    server = create_app(make_settings(instance, TRUSTED_PROXIES=PROXY, METRICS_TOKEN=METRICS_TOKEN))
    server.config["TESTING"] = True
    owner = server.test_client()
    assert owner.post("/login", data={"email": demo.DEMO_EMAIL, "password": DEMO_PASSWORD}).status_code == 302
    yield server, owner
    server.extensions["podcast_platform"].db.dispose()
    job_context.reset()


def directives(policy: str) -> dict[str, str]:
    parts = [d.strip().split(" ", 1) for d in policy.split(";") if d.strip()]
    names = [p[0] for p in parts]
    assert len(names) == len(set(names)), f"a directive appears twice: {policy}"
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts}


def executable_inline_scripts(html: str) -> list[str]:
    """Inline <script> bodies a browser would run (JSON data blocks are not scripts)."""
    return [m["body"] for m in INLINE_SCRIPT.finditer(html)
            if "src=" not in m["attrs"] and "application/json" not in m["attrs"]]


def assert_baseline(response, frame_ancestors: str = DENY) -> dict[str, str]:
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == "'self'"
    assert policy["script-src"].split()[0] == "'self'"
    hashes = policy["script-src"].split()[1:]
    assert all(s.startswith("'sha256-") for s in hashes) and len(hashes) == len(set(hashes))
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["img-src"] == "'self' data:"
    assert (policy["connect-src"], policy["font-src"]) == ("'self'", "'self'")
    assert (policy["object-src"], policy["base-uri"], policy["form-action"]) == ("'none'", "'self'", "'self'")
    assert "frame-ancestors " + policy["frame-ancestors"] == frame_ancestors
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"]
    assert not re.search(r"https?:", " ".join(v for k, v in policy.items() if k != "frame-ancestors"))
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Permissions-Policy"] == "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP
    return policy


def test_every_kind_of_response_carries_the_headers(secured):
    server, owner = secured
    anonymous = server.test_client()
    for response in (anonymous.get("/login"), anonymous.get("/healthz"), anonymous.get("/api/v1/openapi.json"),
                     anonymous.get("/api/docs"), anonymous.get("/assets/style.css"), anonymous.get("/no/such/page"),
                     anonymous.get("/"), owner.get("/"), owner.get("/_dash-layout"), owner.get("/episodes"),
                     anonymous.get("/api/v1/podcasts"), anonymous.post("/login", data={"email": "x@y.z"})):
        assert_baseline(response)
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin", response.request.path
        assert response.headers["X-Frame-Options"] == "DENY"


def test_every_inline_script_of_the_dash_pages_is_hashed(secured):
    _, owner = secured
    for path in ("/", "/episodes", "/campaigns", "/settings/api-keys"):
        response = owner.get(path)
        assert response.status_code == 200
        allowed = set(assert_baseline(response)["script-src"].split())
        scripts = executable_inline_scripts(response.get_data(as_text=True))
        assert any("DashRenderer" in s for s in scripts)  # the renderer's bootstrap is one of them
        for body in scripts:
            assert script_hash(body) in allowed, f"{path}: inline script not in the policy: {body[:80]}"


def test_the_login_api_docs_and_embed_pages_have_no_inline_scripts(secured):
    server, owner = secured
    client = server.test_client()
    for path in ("/login", "/api/docs"):
        assert executable_inline_scripts(client.get(path).get_data(as_text=True)) == [], path
    state = server.extensions["podcast_platform"]
    demo_tenant = accounts.get_tenant_by_slug(state.db, "demo").id
    info = store.create_embed(state.db, TenantContext(demo_tenant, "owner"),
                              {"chart": "top_apps", "filters": {}, "allowed_origins": ["https://partner.example.com"]})
    response = client.get(f"/embed/{store.embed_token(info.id, state.settings.embed_keys)}")
    assert response.status_code == 200
    assert executable_inline_scripts(response.get_data(as_text=True)) == []  # plotly and the drawing are files
    assert_baseline(response, frame_ancestors="frame-ancestors https://partner.example.com")
    assert response.headers["Referrer-Policy"] == "no-referrer"  # the embed's own, kept
    assert "X-Frame-Options" not in response.headers
    for path in ("/embed/not-a-token", "/embed/assets/embed.js"):
        assert_baseline(client.get(path), frame_ancestors="frame-ancestors *" if path.endswith("token") else DENY)


def test_hsts_only_on_https_as_the_request_or_a_trusted_proxy_says(secured):
    server, _ = secured
    client = server.test_client()
    assert "Strict-Transport-Security" not in client.get("/login").headers
    assert client.get("/login", base_url="https://stats.example.com").headers["Strict-Transport-Security"] == HSTS
    forwarded = {"X-Forwarded-Proto": "https"}
    from_anyone = client.get("/login", headers=forwarded, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert "Strict-Transport-Security" not in from_anyone.headers
    from_proxy = client.get("/login", headers=forwarded, environ_base={"REMOTE_ADDR": PROXY})
    assert from_proxy.headers["Strict-Transport-Security"] == HSTS
    plain_via_proxy = client.get("/login", headers={"X-Forwarded-Proto": "http"}, environ_base={"REMOTE_ADDR": PROXY})
    assert "Strict-Transport-Security" not in plain_via_proxy.headers


def test_metrics_need_the_token_when_it_is_set(secured):
    server, owner = secured
    client = server.test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401 and "http_requests_total" not in refused.get_data(as_text=True)
    assert owner.get("/metrics").status_code == 401  # a login session is not the scraper's credential
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    answered = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answered.status_code == 200 and "http_requests_total" in answered.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200


def test_the_policy_keeps_framings_directive_whatever_ran_first():
    policy = content_security_policy(["'sha256-abc='", "'sha256-abc='"])
    assert frame_ancestors_of(policy) is None and "script-src 'self' 'sha256-abc=';" in policy
    assert with_frame_ancestors(policy, None) == policy
    assert with_frame_ancestors(policy, DENY) == f"{policy}; {DENY}"
    assert with_frame_ancestors(policy, f"{policy}; frame-ancestors https://a.example") == \
        f"{policy}; frame-ancestors https://a.example"
