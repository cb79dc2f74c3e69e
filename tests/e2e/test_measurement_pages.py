"""Measurement pages in Chromium: podcasts with prefix URLs, the methodology, and a log upload with progress."""
from tests.e2e.conftest import login

LOG = ('198.51.100.{i} - - [26/Nov/2026:05:00:00 +0000] "GET /market-hours/0050.mp3 HTTP/1.1" 200 3000000 "-" '
       '"Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"')


def test_podcasts_and_methodology(page, live_server):
    login(page, live_server)
    page.get_by_role("link", name="Podcasts").click()
    page.locator(".data-table").get_by_text("Signal & Noise").wait_for(timeout=15_000)
    assert "/e/demo" in page.locator(".data-table").inner_text()
    page.get_by_role("link", name="Methodology").first.click()
    page.get_by_role("heading", name="Deduplication").wait_for(timeout=15_000)
    assert "OPAWG" in page.locator("#methodology-body").inner_text()
    assert page.errors == []


def test_upload_a_log(page, live_server, tmp_path):
    login(page, live_server)
    page.goto(f"{live_server}/logs")
    log = tmp_path / "cdn.log"
    log.write_text("\n".join(LOG.format(i=i) for i in range(1, 8)) + "\ngarbage line\n")
    page.locator("#logs-upload input[type=file]").set_input_files(str(log))
    page.get_by_placeholder("media host, if the log has none").fill("media.example.com")
    page.get_by_role("button", name="Import").click()
    page.get_by_text("7 requests stored").wait_for(timeout=20_000)
    assert "line 8" in page.locator("#logs-status").inner_text()
    assert page.locator("#logs-table").get_by_text("cdn.log").is_visible()
    assert page.errors == []
