"""In Chromium: the period picked on the overview follows the user to the audience page and through back/forward;
a fresh network (made with the CLI) sees the getting-started checklist; phone-size (390x844) screenshots of the
checklist, the overview and a campaign page go to test-artifacts/."""
import os
import subprocess
import sys

from services.settings import PROJECT_ROOT
from tests.e2e.conftest import ARTIFACTS, BROWSER_TIMEOUT_MS, LIVE_INSTANCES, login

PHONE = {"width": 390, "height": 844}


def _checked(page, label: str) -> bool:
    return page.get_by_label(label, exact=True).is_checked()


def test_the_period_follows_the_user_across_pages_and_history(page, live_server):
    login(page, live_server)
    page.locator(".kpi-card").first.wait_for()
    page.get_by_label("90 days").check()
    page.wait_for_function("location.search === '?range=90d'")
    compare = page.locator("#overview-compare")
    compare.click()
    page.get_by_role("option", name="Previous year").click()
    page.wait_for_function("location.search === '?range=90d&compare=year'")

    # the navigation's links follow the view (a callback rewrites them after each change)
    page.wait_for_function("[...document.querySelectorAll('#shell-nav a')].some("
                           "a => a.getAttribute('href') === '/audience?range=90d&compare=year')")
    page.locator("#shell-nav").get_by_role("link", name="Audience").click()
    page.wait_for_function("location.pathname === '/audience' && location.search === '?range=90d&compare=year'")
    page.locator("#audience-map .choroplethlayer path").first.wait_for(timeout=20_000)
    assert _checked(page, "90 days") and "Previous year" in page.locator("#audience-compare").inner_text()

    page.go_back()
    page.wait_for_function("location.pathname === '/' && location.search === '?range=90d&compare=year'")
    page.locator("#overview-downloads-chart .barlayer .point").first.wait_for(timeout=20_000)
    assert _checked(page, "90 days")
    page.go_back()  # the step before the comparison changed
    page.wait_for_function("location.pathname === '/' && location.search === '?range=90d'")
    page.wait_for_function("document.querySelector('#overview-compare').innerText.includes('Previous period')")
    page.go_forward()
    page.go_forward()
    page.wait_for_function("location.pathname === '/audience' && location.search === '?range=90d&compare=year'")
    page.locator("#audience-range").wait_for()
    assert _checked(page, "90 days")

    # A copied link opens the same view in a fresh tab
    other = page.context.new_page()
    other.goto(f"{live_server}/episodes?range=7d&compare=none")
    other.locator("#episodes-range").wait_for()
    assert other.get_by_label("7 days", exact=True).is_checked()
    assert "No comparison" in other.locator("#episodes-compare").inner_text()
    # The episodes grid's search is in the URL too: a link with it opens the grid filtered
    other.goto(f"{live_server}/episodes?range=12m&q=Long+Way")
    assert other.get_by_placeholder("Search episodes…").input_value() == "Long Way"
    other.locator(".ag-row").first.wait_for(timeout=20_000)
    other.wait_for_function("[...document.querySelectorAll('.ag-row [col-id=podcast]')].every("
                            "c => c.textContent.includes('Long Way'))")
    other.get_by_placeholder("Search episodes…").fill("Market")
    other.wait_for_function("location.search === '?range=12m&q=Market'")
    other.close()
    assert page.errors == []


def _cli(base: str, *args: str) -> str:
    env = {**os.environ, "INSTANCE_PATH": str(LIVE_INSTANCES[base]), "LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_a_fresh_network_sees_the_checklist_on_a_phone(page, browser, live_server):
    _cli(live_server, "create-tenant", "fresh-net", "Fresh Network")
    _cli(live_server, "create-user", "owner@fresh-net.test", "--tenant", "fresh-net", "--role", "owner",
         "--password", "fresh-password-1")
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size(PHONE)
    login(page, live_server, "owner@fresh-net.test", "fresh-password-1")
    checklist = page.locator("#onboarding-podcast")
    checklist.wait_for(timeout=20_000)
    assert checklist.locator(".checklist-step").count() == 4
    assert checklist.locator(".checklist-step.done").count() == 0
    assert "Add your show's feed" in checklist.inner_text()
    page.screenshot(path=str(ARTIFACTS / "phone-onboarding-overview.png"), full_page=True)

    page.get_by_role("link", name="Step-by-step set-up, with instructions for your host").click()
    page.wait_for_url(f"{live_server}/welcome")
    page.get_by_text("Buzzsprout").click()  # each host's instructions open in place
    page.get_by_text("Podcast Settings, then the advanced settings").wait_for()
    page.get_by_text("Self-hosted (nginx)").click()
    page.get_by_text("return 302").wait_for()
    page.screenshot(path=str(ARTIFACTS / "phone-onboarding-welcome.png"), full_page=True)
    assert page.errors == []

    # The running demo network: its overview and a campaign page at phone size, and no checklist.
    # Playwright's waits evaluate code in the page, which the app's policy forbids (see conftest's page)
    demo = browser.new_context(viewport=PHONE, bypass_csp=True)
    demo.set_default_timeout(BROWSER_TIMEOUT_MS)
    phone = demo.new_page()
    phone.errors = []
    phone.on("pageerror", lambda exc: phone.errors.append(str(exc)))
    login(phone, live_server)
    phone.locator(".kpi-card").first.wait_for(timeout=20_000)
    assert phone.locator("#onboarding-podcast").count() == 0
    phone.screenshot(path=str(ARTIFACTS / "phone-overview.png"), full_page=True)
    phone.goto(f"{live_server}/campaigns")
    phone.locator("#campaigns-table").get_by_role("link", name="Privacy Month").click()  # live: days this week
    phone.wait_for_url(f"{live_server}/campaigns/*")
    phone.locator("#campaign-delivery-chart .scatterlayer .trace").first.wait_for(timeout=20_000)
    phone.get_by_label("7 days", exact=True).check()
    phone.wait_for_function("location.search === '?range=7d'")
    phone.get_by_text("Delivery, pacing and attribution from").wait_for(timeout=20_000)
    phone.screenshot(path=str(ARTIFACTS / "phone-campaign.png"), full_page=True)
    assert phone.errors == []
    demo.close()
