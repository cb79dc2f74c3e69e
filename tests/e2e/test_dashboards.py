"""The dashboards in Chromium: change the date range and see chart and URL follow, reload into the same view, back and
forward, open an episode from the grid, download a CSV, the audience and podcast pages; no console errors.
Screenshots of each page go to test-artifacts/."""
import csv
import io
from datetime import timedelta

import pandas as pd

from services.dashboards.periods import today_in
from tests.e2e.conftest import ARTIFACTS, login

BARS = "#overview-downloads-chart .barlayer .point"


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboards-{name}.png"), full_page=True)


def _bars(page, count: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('{BARS}').length === {count}", timeout=20_000)


def _weeks_in_last(days: int) -> int:
    """The Monday-to-Sunday weeks the last `days` days touch, today included (the demo network keeps UTC): for 90
    days 14, or 13 when they start on a Monday."""
    last = today_in("UTC")
    return pd.date_range(last - timedelta(days=days - 1), last, freq="D").to_period("W-SUN").nunique()


def test_dashboards_in_the_browser(page, live_server):
    weeks = _weeks_in_last(90)
    login(page, live_server)
    _bars(page, 30)
    page.locator(".kpi-card").first.wait_for()
    _shot(page, "overview")

    page.get_by_label("90 days").check()
    _bars(page, 90)
    page.wait_for_function("location.search === '?range=90d'")
    page.get_by_label("Week", exact=True).check()
    page.wait_for_function("location.search === '?range=90d&granularity=week'")
    page.reload()
    _bars(page, weeks)  # 90 days by week: the same view after a reload
    assert page.get_by_label("90 days").is_checked() and page.get_by_label("Week", exact=True).is_checked()
    page.go_back()
    page.wait_for_function("location.search === '?range=90d'")
    _bars(page, 90)
    assert page.get_by_label("Day", exact=True).is_checked()
    page.go_forward()
    _bars(page, weeks)

    with page.expect_download() as download:
        page.locator("#overview-downloads-chart").locator("xpath=ancestor::section").get_by_role(
            "button", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert download.value.suggested_filename == "timeline.csv" and len(rows) == weeks
    assert sum(int(r["downloads"]) for r in rows) > 0
    assert page.errors == []

    page.get_by_role("link", name="Episodes").click()
    page.get_by_label("12 months").check()  # the grid lists the episodes released in the period
    page.wait_for_function("location.search === '?range=12m'")
    page.locator(".ag-row").nth(10).wait_for(timeout=20_000)
    _shot(page, "episodes")
    page.get_by_placeholder("Search episodes…").fill("Long Way")
    page.wait_for_function("[...document.querySelectorAll('.ag-row [col-id=podcast]')].every("
                           "c => c.textContent.includes('Long Way'))")
    title = page.locator(".ag-row [col-id=episode]").first.inner_text()
    page.locator(".ag-row [col-id=episode]").first.click()
    page.wait_for_function("location.pathname.startsWith('/episodes/')")
    page.get_by_role("heading", name=title).wait_for(timeout=20_000)
    page.locator("#episode-launch-chart .scatterlayer .trace").nth(2).wait_for(timeout=20_000)
    _shot(page, "episode")
    assert page.errors == []

    page.get_by_role("link", name="Audience").click()
    page.locator("#audience-map .choroplethlayer path").first.wait_for(timeout=20_000)
    page.locator("#audience-heatmap .heatmaplayer").wait_for(timeout=20_000)
    _shot(page, "audience")

    page.goto(f"{live_server}/podcasts")
    page.get_by_role("link", name="Market Hours").click()
    page.get_by_role("heading", name="Market Hours").wait_for(timeout=20_000)
    page.locator("#podcast-downloads-chart .barlayer .point").first.wait_for(timeout=20_000)
    page.locator("#podcast-forecast-chart .scatterlayer .trace").nth(2).wait_for(timeout=20_000)  # the band
    _shot(page, "podcast")
    assert page.errors == []
