"""Notifications in Chromium: a campaign made through its form starts the workflow; the bell counts the new
notification, the notifications page lists it and marks all read, and the events page shows the event done."""
from datetime import date, timedelta

from tests.e2e.conftest import choose, login, pick_date


def test_a_new_campaign_rings_the_bell_and_shows_on_the_events_page(page, live_server):
    today = date.today()
    login(page, live_server)
    page.get_by_role("link", name="Campaigns").click()
    page.wait_for_url(f"{live_server}/campaigns")
    page.locator("#campaigns-form-box").wait_for(state="visible", timeout=15_000)
    choose(page, "campaigns-field-sponsor_id", "Northwind Coffee")
    page.locator("#campaigns-field-name").fill("Bell Ringer")
    pick_date(page, "campaigns-field-start_date", today + timedelta(days=5))
    pick_date(page, "campaigns-field-end_date", today + timedelta(days=35))
    page.locator("#campaigns-field-cpm").fill("20")
    page.get_by_role("button", name="Create campaign").click()
    page.locator("#campaigns-message").get_by_role("link", name="Bell Ringer").wait_for(timeout=15_000)

    page.get_by_role("link", name="Events").click()  # a page change refreshes the bell
    page.wait_for_url(f"{live_server}/settings/events")
    page.locator("#events-table").get_by_text("campaign.created").first.wait_for(timeout=15_000)
    page.locator("#shell-bell-count.bell-count:not(.bell-count-zero)").wait_for(timeout=15_000)
    assert int(page.locator("#shell-bell-count").inner_text().rstrip("+")) >= 1

    page.locator("#shell-bell").click()
    page.wait_for_url(f"{live_server}/notifications")
    page.locator("#notifications-list").get_by_text("Recommendations ready for Bell Ringer").wait_for(timeout=15_000)
    page.get_by_role("button", name="Mark all read").click()
    page.locator("#notifications-list .notification-unread").first.wait_for(state="detached", timeout=15_000)
    page.get_by_role("link", name="Overview").click()
    page.locator("#shell-bell-count.bell-count-zero").wait_for(state="attached", timeout=15_000)
    assert page.errors == []
