"""The seller's side in Chromium: a sponsor and a campaign made through the forms (one input refused beside its
field), a placement, the workflow to live; then that sponsor's user sees only that campaign."""
from datetime import date, timedelta

from tests.e2e.conftest import ARTIFACTS, choose, login, pick_date


def test_sponsor_campaign_placement_live_then_the_sponsor_portal(page, browser, live_server):
    today = date.today()
    login(page, live_server)

    # A sponsor through its form, and a login for the sponsor's user (password shown once).
    page.get_by_role("link", name="Sponsors").click()
    page.wait_for_url(f"{live_server}/sponsors")
    page.locator("#sponsors-field-name").fill("Acme Tea")
    page.locator("#sponsors-field-industry").fill("Food & Beverage")
    page.locator("#sponsors-field-website").fill("https://tea.example.com")
    page.get_by_role("button", name="Save sponsor").click()
    page.locator("#sponsors-table").get_by_text("Acme Tea").wait_for(timeout=15_000)
    choose(page, "sponsors-invite-sponsor", "Acme Tea")
    page.locator("#sponsors-invite-email").fill("buyer@acme-tea.test")
    page.get_by_role("button", name="Invite").click()
    page.locator("#sponsors-invite-result pre.secret").wait_for(timeout=15_000)
    password = page.locator("#sponsors-invite-result pre.secret").inner_text().strip()

    # A campaign through its form: a promo code another campaign uses is refused beside its field.
    page.get_by_role("link", name="Campaigns").click()
    page.wait_for_url(f"{live_server}/campaigns")
    page.locator("#campaigns-form-box").wait_for(state="visible", timeout=15_000)
    choose(page, "campaigns-field-sponsor_id", "Acme Tea")
    page.locator("#campaigns-field-name").fill("Tea Time")
    pick_date(page, "campaigns-field-start_date", today - timedelta(days=10))
    pick_date(page, "campaigns-field-end_date", today + timedelta(days=20))
    page.locator("#campaigns-field-cpm").fill("20")
    page.locator("#campaigns-field-goal_impressions").fill("5000")
    page.locator("#campaigns-field-budget").fill("1000")
    page.locator("#campaigns-field-promo_code").fill("privacy20")  # the demo's "Privacy Month" has PRIVACY20
    page.get_by_role("button", name="Create campaign").click()
    error = page.locator("#campaigns-error-promo_code")
    error.get_by_text("already used by another campaign").wait_for(timeout=15_000)
    assert page.locator("#campaigns-error-name").inner_text() == ""
    page.screenshot(path=str(ARTIFACTS / "campaign_form_refused.png"), full_page=True)
    page.locator("#campaigns-field-promo_code").fill("TEATIME")
    page.get_by_role("button", name="Create campaign").click()
    page.locator("#campaigns-message").get_by_role("link", name="Tea Time").click()
    page.wait_for_url(f"{live_server}/campaigns/*")
    campaign_url = page.url

    # A placement on a show, then draft -> proposed -> approved -> live.
    page.locator("#campaign-placement-box").wait_for(state="visible", timeout=15_000)
    choose(page, "campaign-placement-field-podcast_id", "Signal & Noise")
    page.get_by_role("button", name="Add placement").click()
    page.locator("#campaign-placements").get_by_text("Signal & Noise").wait_for(timeout=15_000)
    for status in ("proposed", "approved", "live"):
        page.get_by_role("button", name=f"Move to {status}").click()
        page.locator("#campaign-header .status-badge", has_text=status).wait_for(timeout=15_000)
    assert page.locator("#campaign-history td", has_text="live").count() >= 1
    page.locator("#campaign-delivery-chart .scatterlayer .trace").first.wait_for(timeout=15_000)
    assert page.errors == []

    # The sponsor's user: only this campaign, the portal's navigation, no management.
    sponsor_context = browser.new_context(viewport={"width": 1366, "height": 900})
    portal = sponsor_context.new_page()
    portal.errors = []
    portal.on("console", lambda msg: portal.errors.append(msg.text) if msg.type == "error" else None)
    try:
        portal.goto(f"{live_server}/login")
        portal.get_by_label("Email").fill("buyer@acme-tea.test")
        portal.get_by_label("Password").fill(password)
        portal.get_by_role("button", name="Sign in").click()
        portal.wait_for_url(f"{live_server}/campaigns")
        portal.locator("#campaigns-table").get_by_text("Tea Time").wait_for(timeout=15_000)
        table = portal.locator("#campaigns-table").inner_text()
        assert "Privacy Month" not in table and "Lumen" not in table and "Northwind" not in table
        assert portal.locator("#shell-nav a").all_inner_texts() == ["Campaigns", "API keys", "Embeds", "Reports"]
        assert not portal.locator("#campaigns-form-box").is_visible()
        portal.goto(campaign_url)
        portal.locator("#campaign-header .status-badge", has_text="live").wait_for(timeout=15_000)
        assert portal.get_by_role("button", name="Move to paused").count() == 0
        assert not portal.locator("#campaign-placement-box").is_visible()
        portal.screenshot(path=str(ARTIFACTS / "campaign_sponsor_portal.png"), full_page=True)
        portal.goto(f"{live_server}/campaigns/2")  # the demo's "Privacy Month", Lumen VPN's
        portal.locator("#campaign-message").get_by_text("no campaign 2").wait_for(timeout=15_000)
        assert "Privacy Month" not in portal.locator("main").inner_text()
        portal.goto(f"{live_server}/campaigns/not-a-number")
        portal.get_by_text("There is no campaign").wait_for(timeout=15_000)
        assert portal.errors == []
    finally:
        sponsor_context.close()
