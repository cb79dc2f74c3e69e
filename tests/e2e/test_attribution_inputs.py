"""The attribution inputs in Chromium: the sponsors page shows a sponsor's pixel snippet, and a campaign saved with
a 14-day lookback keeps it (its page's edit form shows 14), with a tracking link made for it; no console errors."""
from datetime import date, timedelta

from tests.e2e.conftest import ARTIFACTS, choose, login, pick_date


def test_pixel_snippet_then_a_campaign_with_a_14_day_lookback(page, live_server):
    today = date.today()
    login(page, live_server)

    page.get_by_role("link", name="Sponsors").click()
    page.wait_for_url(f"{live_server}/sponsors")
    snippet = page.locator("#sponsor-pixel-snippet")
    snippet.wait_for(timeout=15_000)
    script = snippet.inner_text()
    assert f"{live_server}/px.gif" in script and "utm_" in script and "randomUUID" in script
    assert "k=" in page.locator("#sponsor-pixel-image").inner_text()
    page.get_by_role("button", name="Refresh").click()
    page.locator("#sponsor-pixel-body").get_by_text("Last events received").wait_for(timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / "sponsor_pixel_panel.png"), full_page=True)

    page.get_by_role("link", name="Campaigns").click()
    page.wait_for_url(f"{live_server}/campaigns")
    page.locator("#campaigns-form-box").wait_for(state="visible", timeout=15_000)
    choose(page, "campaigns-field-sponsor_id", "Lumen VPN")
    page.locator("#campaigns-field-name").fill("Lookback Fortnight")
    pick_date(page, "campaigns-field-start_date", today - timedelta(days=3))
    pick_date(page, "campaigns-field-end_date", today + timedelta(days=25))
    page.locator("#campaigns-field-cpm").fill("18")
    page.locator("#campaigns-field-landing_url").fill("https://lumen.example.com/fortnight")
    page.locator("#campaigns-field-lookback_days").fill("61")
    page.get_by_role("button", name="Create campaign").click()
    page.locator("#campaigns-error-lookback_days").get_by_text("from 1 to 60").wait_for(timeout=15_000)
    page.locator("#campaigns-field-lookback_days").fill("14")
    choose(page, "campaigns-field-attribution_model", "Time decay")
    page.locator("#campaigns-field-exclude_prior_customers input").check()
    page.get_by_role("button", name="Create campaign").click()
    page.locator("#campaigns-message").get_by_role("link", name="Lookback Fortnight").wait_for(timeout=15_000)

    # A tracking link for it, with its full URL.
    choose(page, "campaign-inputs-campaign", "Lookback Fortnight (Lumen VPN)")
    page.locator("#campaign-inputs-label").fill("show notes")
    page.get_by_role("button", name="Create tracking link").click()
    page.locator("#campaign-inputs-links").get_by_text(f"{live_server}/l/").wait_for(timeout=15_000)

    page.locator("#campaigns-message").get_by_role("link", name="Lookback Fortnight").click()
    page.wait_for_url(f"{live_server}/campaigns/*")
    lookback = page.locator("#campaign-edit-field-lookback_days")
    lookback.wait_for(state="attached", timeout=15_000)
    page.wait_for_function("() => document.querySelector('#campaign-edit-field-lookback_days')?.value === '14'",
                           timeout=15_000)
    assert lookback.input_value() == "14"
    assert page.locator("#campaign-edit-field-exclude_prior_customers input").is_checked()
    assert page.errors == []
