"""Browser journeys on the production stack: the app on PostgreSQL (row-level security, the app role) with Redis
and a real RQ worker, as operators run it, instead of the embedded default."""
from datetime import date, timedelta

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from standardwebhooks import Webhook

from tests.e2e.conftest import choose, login, pick_date


def test_login_and_overview_on_postgres_with_redis_and_a_worker(page, production):
    login(page, production.base)
    page.locator("#overview-downloads-chart .barlayer .point").first.wait_for(timeout=30_000)
    assert page.locator("#overview-downloads-chart .barlayer .point").count() >= 30
    assert page.locator("#shell-tenant").inner_text() == "Demo Network"
    assert page.errors == []


def test_a_campaign_saved_in_the_form_runs_the_whole_workflow(page, production):
    """The seed's campaign-creation flow end to end on the production stack: the form saves the campaign, its
    `campaign.created` event is dispatched by the worker to matchmaking, the notifications (bell and email at the
    local SMTP server) and a webhook that the local receiver verifies with the standardwebhooks package."""
    today = date.today()
    login(page, production.base)

    page.get_by_role("link", name="Webhooks").click()
    page.get_by_role("heading", name="Webhooks").wait_for(timeout=15_000)
    page.get_by_placeholder("https://example.com/webhooks").fill(production.receiver.url)
    page.get_by_role("button", name="Add endpoint").click()
    page.locator("pre.secret").wait_for(timeout=15_000)
    secret = page.locator("pre.secret").inner_text().strip()
    assert secret.startswith("whsec_")

    page.get_by_role("link", name="Campaigns").click()
    page.wait_for_url(f"{production.base}/campaigns")
    page.locator("#campaigns-form-box").wait_for(state="visible", timeout=15_000)
    choose(page, "campaigns-field-sponsor_id", "Northwind Coffee")
    page.locator("#campaigns-field-name").fill("Workflow Launch")
    pick_date(page, "campaigns-field-start_date", today + timedelta(days=3))
    pick_date(page, "campaigns-field-end_date", today + timedelta(days=33))
    page.locator("#campaigns-field-cpm").fill("22")
    page.locator("#campaigns-field-goal_impressions").fill("20000")
    page.locator("#campaigns-field-budget").fill("800")
    page.get_by_role("button", name="Create campaign").click()
    page.locator("#campaigns-message").get_by_role("link", name="Workflow Launch").click()
    page.wait_for_url(f"{production.base}/campaigns/*")
    campaign_id = int(page.url.rstrip("/").rsplit("/", 1)[1])

    rows = page.locator("#campaign-match-list tbody tr")  # the recommendations panel fills
    rows.first.wait_for(timeout=20_000)
    assert rows.count() == 3 and rows.first.locator("td").first.inner_text() == "#1"

    rung = page.locator("#shell-bell-count.bell-count:not(.bell-count-zero)")
    for _ in range(6):  # the bell counts the worker's notification; its callback runs on each page load
        try:
            rung.wait_for(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.reload()
    else:
        raise AssertionError("the bell never counted the notification")
    page.locator("#shell-bell").click()
    page.wait_for_url(f"{production.base}/notifications")
    page.locator("#notifications-list").get_by_text("Recommendations ready for Workflow Launch").wait_for(
        timeout=15_000)

    mail = production.mailbox.wait_for(lambda m: m["Subject"] == "Recommendations ready for Workflow Launch")
    assert mail["To"] == "demo@example.com"
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None and html is not None and "Top shows:" in text.get_content()

    delivery = production.receiver.wait_for("campaign.created")
    verified = Webhook(secret).verify(delivery.body, delivery.headers)  # raises on a bad signature
    assert verified["data"] == {"campaign_id": campaign_id, "name": "Workflow Launch",
                                "sponsor_id": verified["data"]["sponsor_id"]}
    assert delivery.headers["webhook-id"] and delivery.headers["webhook-signature"].startswith("v1,")
    assert page.errors == []
