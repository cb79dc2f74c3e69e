"""A person's first minute: the login page, signing in, and the overview with its chart, without console errors."""
from tests.e2e.conftest import login


def test_anonymous_visit_lands_on_login(page, live_server):
    page.goto(f"{live_server}/")
    assert page.url.startswith(f"{live_server}/login")
    assert page.get_by_label("Email").is_visible()
    assert page.errors == []


def test_login_then_overview_chart_renders(page, live_server):
    login(page, live_server)
    page.locator("#overview-downloads-chart .barlayer .point").first.wait_for(timeout=20_000)
    assert page.locator("#overview-downloads-chart .barlayer .point").count() >= 30
    assert page.locator(".kpi-card").count() == 5
    assert page.locator("#shell-tenant").inner_text() == "Demo Network"
    assert page.locator("#shell-user").inner_text() == "demo@example.com"
    assert page.errors == []

    page.get_by_label("90 days").check()
    page.wait_for_function(
        "document.querySelectorAll('#overview-downloads-chart .barlayer .point').length >= 90", timeout=20_000)
    assert page.errors == []


def test_wrong_password_shows_an_error(page, live_server):
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("demo@example.com")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "wrong email or password"


def test_create_an_api_key_in_the_browser(page, live_server):
    login(page, live_server)
    page.get_by_role("link", name="API keys").click()
    page.wait_for_url(f"{live_server}/settings/api-keys")
    page.get_by_placeholder("Key name, e.g. reporting").fill("browser key")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("pre.secret")
    secret.wait_for(timeout=10_000)
    assert secret.inner_text().startswith("pk_")
    assert page.locator(".data-table").get_by_text("browser key").is_visible()
    assert page.errors == []
