"""The webhooks page in Chromium: the owner reaches it from the navigation, a loopback URL is refused in the form
with the reason, and the page raises no console errors."""
from tests.e2e.conftest import login


def test_webhooks_page_refuses_a_loopback_url(page, live_server):
    login(page, live_server)
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_role("heading", name="Webhooks").wait_for(timeout=15_000)
    page.get_by_text("No webhook endpoints yet.").wait_for(timeout=15_000)
    page.get_by_placeholder("https://example.com/webhooks").fill("http://localhost:8080/hooks")
    page.get_by_role("button", name="Add endpoint").click()
    page.get_by_text("loopback address").wait_for(timeout=15_000)
    assert "No webhook endpoints yet." in page.locator("#webhooks-table").inner_text()
    assert page.errors == []
