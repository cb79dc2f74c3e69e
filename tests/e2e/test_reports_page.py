"""Email reports in Chromium: a show report subscribed through the form (a missing show refused beside its field),
listed with its schedule, previewed as the email it would send (charts drawn server-side, inlined), then deleted."""
import pytest

from tests.e2e.conftest import choose, login


@pytest.mark.timeout(240)
def test_subscribe_preview_and_delete_a_show_report(page, live_server):
    login(page, live_server)
    page.goto(f"{live_server}/settings/reports")
    page.get_by_role("heading", name="Email reports").wait_for(timeout=15_000)
    page.locator("#reports-table").get_by_text("You are not subscribed").wait_for(timeout=15_000)
    choose(page, "reports-field-kind", "Show report")
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator("#reports-error-target_id").get_by_text("choose a show").wait_for(timeout=15_000)
    choose(page, "reports-field-target_id", "Signal & Noise")
    choose(page, "reports-field-day", "Tuesday")
    page.get_by_role("button", name="Save", exact=True).click()
    table = page.locator("#reports-table")
    table.get_by_text("Show report: Signal & Noise").wait_for(timeout=15_000)
    assert table.get_by_text("Weekly, Tuesday at 08:00").count() == 1

    table.get_by_role("button", name="Preview").click()
    frame = page.frame_locator("#reports-preview-frame")
    frame.get_by_text("Weekly report: Signal & Noise").wait_for(timeout=120_000)
    images = frame.locator("img")
    assert images.count() == 2
    assert all(images.nth(i).get_attribute("src").startswith("data:image/png;base64,") for i in range(2))
    assert all(images.nth(i).evaluate("img => img.complete && img.naturalWidth") == 640 for i in range(2))

    table.get_by_role("button", name="Delete").click()
    table.get_by_text("You are not subscribed").wait_for(timeout=15_000)
    assert page.errors == []
