"""The Content-Security-Policy in Chromium: the login page, the main dashboard pages, an embed and the API docs page
load with the policy in force and without a single violation (every inline script is hashed, nothing loads from
another origin, nothing needs eval)."""
from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import login

# Records every violation the page reports (the browser also logs each one to the console as an error).
RECORD_VIOLATIONS = """window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " +
                              e.sourceFile + ":" + e.lineNumber);
});"""
DASHBOARD_PAGES = ("/", "/episodes", "/audience", "/podcasts", "/insights", "/live", "/campaigns", "/sponsors",
                   "/embeds", "/settings", "/settings/api-keys", "/settings/team", "/settings/privacy",
                   "/settings/audit", "/methodology", "/account/security")


@pytest.fixture
def strict_page(csp_page):
    csp_page.add_init_script(RECORD_VIOLATIONS)
    return csp_page


def violations(page) -> list[str]:
    reported = page.evaluate("window.__cspViolations || []")
    logged = [text for text in page.errors if "Content Security Policy" in text]
    return reported + logged


def open_and_settle(page, url: str):
    response = page.goto(url)
    page.wait_for_load_state("networkidle")
    return response


@pytest.mark.timeout(420)  # the first test of a run also waits for the app's start (the demo seeds ~1 min)
def test_login_and_dashboard_pages_load_without_csp_violations(strict_page, live_server):
    page = strict_page
    response = open_and_settle(page, f"{live_server}/login")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "'unsafe-eval'" not in policy and "frame-ancestors 'none'" in policy
    assert violations(page) == []
    login(page, live_server)
    for path in DASHBOARD_PAGES:
        response = open_and_settle(page, f"{live_server}{path}")
        assert response.status == 200, path
        assert "script-src 'self' 'sha256-" in response.headers["content-security-policy"], path
        if not path.startswith("/account/"):  # the account pages are Flask's, without the app shell
            page.locator("#main").wait_for()
        assert violations(page) == [], path
    page.goto(f"{live_server}/")  # a chart drawn by plotly.js under the policy
    page.locator("#overview-downloads-chart .barlayer .point").first.wait_for(timeout=30_000)
    assert violations(page) == []
    assert page.errors == []


@pytest.mark.timeout(300)
def test_the_api_docs_and_an_embed_load_without_csp_violations(strict_page, live_server):
    page = strict_page
    response = open_and_settle(page, f"{live_server}/api/docs")
    assert response.status == 200 and "default-src 'self'" in response.headers["content-security-policy"]
    assert page.get_by_role("heading", name="Operations").is_visible()
    assert violations(page) == []

    login(page, live_server)
    card = page.locator("section.chart-card", has_text="Top apps")
    card.locator(".main-svg").first.wait_for(timeout=30_000)
    card.get_by_role("button", name="Share / embed").click()
    page.locator("#overview-embed-origins").fill("https://partner.example.com")
    page.get_by_role("button", name="Create embed").click()
    url = re.search(r'src="([^"]+)"', page.locator(".embed-snippet").inner_text(timeout=15_000)).group(1)

    response = open_and_settle(page, url)
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors https://partner.example.com" in policy and "script-src 'self'" in policy
    assert response.headers["referrer-policy"] == "no-referrer"
    page.locator("body[data-drawn=true]").wait_for(timeout=30_000)  # plotly.js drew the chart under the policy
    assert violations(page) == []

    assert page.errors == []
