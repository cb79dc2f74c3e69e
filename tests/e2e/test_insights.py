"""The insights page in Chromium: open it from the navigation, read the period's summary and the anomalies table,
download its CSV; the overview shows its "This week" card; no console errors."""
import csv
import io

from tests.e2e.conftest import ARTIFACTS, login


def test_insights_in_the_browser(page, live_server):
    login(page, live_server)
    page.locator("#overview-summary .insight-summary").wait_for(timeout=20_000)
    assert "the network had" in page.locator("#overview-summary .insight-summary").inner_text()

    page.get_by_role("link", name="Insights").click()
    page.wait_for_function("location.pathname === '/insights'")
    page.get_by_label("90 days").check()
    page.wait_for_function("new URLSearchParams(location.search).get('range') === '90d'")
    page.locator("#insights-summary .insight-summary").wait_for(timeout=20_000)
    assert "the network had" in page.locator("#insights-summary .insight-summary").inner_text()
    page.locator("#insights-table table, #insights-table p").first.wait_for(timeout=20_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "insights.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text())))
    assert download.value.suggested_filename == "anomalies.csv"
    assert rows[0] == ["day", "podcast_id", "dimension", "value", "expected", "kind", "cause", "podcast"]
    assert page.errors == []
