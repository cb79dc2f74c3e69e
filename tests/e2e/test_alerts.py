"""Alerts in Chromium: a rule made through the form (a missing threshold refused beside its field), listed with its
state, muted, and its (empty) history shown."""
from tests.e2e.conftest import choose, login


def test_alert_rule_form_list_mute_and_history(page, live_server):
    login(page, live_server)
    page.get_by_role("link", name="Alerts").click()
    page.wait_for_url(f"{live_server}/alerts")
    page.locator("#alerts-form-box").wait_for(state="visible", timeout=15_000)
    page.locator("#alerts-field-name").fill("Signal under a million")
    choose(page, "alerts-field-metric", "Show downloads a day")
    choose(page, "alerts-field-target_id", "Signal & Noise")
    choose(page, "alerts-field-condition", "is below")
    page.get_by_role("button", name="Save rule").click()
    page.locator("#alerts-error-threshold").get_by_text("a number").wait_for(timeout=15_000)
    page.locator("#alerts-field-threshold").fill("1000000")
    page.get_by_role("button", name="Save rule").click()
    table = page.locator("#alerts-table")
    table.get_by_text("Signal under a million").wait_for(timeout=15_000)
    assert table.get_by_text("OK", exact=True).count() == 1
    table.get_by_role("button", name="Mute 24 h").click()
    table.get_by_text("Muted until").wait_for(timeout=15_000)
    table.get_by_role("button", name="History").click()
    page.locator("#alerts-history").get_by_text("Not evaluated yet.").wait_for(timeout=15_000)
    assert page.errors == []
