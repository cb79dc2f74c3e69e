"""Every page passes axe-core's serious and critical rules, signed out and signed in, on a desktop and on a phone,
and none scrolls sideways on the phone. The pages come from Dash's page registry, so a new page is checked too."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from services.settings import PROJECT_ROOT
from tests.conftest import require_service
from tests.e2e.conftest import ARTIFACTS, BROWSER_TIMEOUT_MS, login

AXE = PROJECT_ROOT / "tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = {"desktop": {"width": 1400, "height": 1000}, "phone": {"width": 390, "height": 844}}
PHONE_WIDTH = VIEWPORTS["phone"]["width"]
FAILING_IMPACTS = ("serious", "critical")
SCREENSHOTS = ARTIFACTS / "accessibility"

# The registry as the app builds it, read in a child process so this one's dash globals stay untouched.
REGISTRY_SCRIPT = """
import json, dash, tests
from services.settings import PROJECT_ROOT
dash.Dash("tests", use_pages=True, pages_folder=str(PROJECT_ROOT / "pages"))
print(json.dumps([{"name": p["name"], "path": p["path"], "path_template": p.get("path_template")}
                  for p in dash.page_registry.values()]))
"""

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                     nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5),
                                     count: v.nodes.length}));
}"""

# The innermost elements reaching past the right edge: what makes a page scroll sideways.
PAST_THE_EDGE = """(limit) => Array.from(document.querySelectorAll("body *"))
  .filter(e => e.getBoundingClientRect().right > limit && e.getBoundingClientRect().width > 0
               && !Array.from(e.children).some(c => c.getBoundingClientRect().right > limit))
  .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
                        + (typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\\s+/).join(".") : "")
                        + " right=" + Math.round(e.getBoundingClientRect().right))"""

# Settled: nothing of Dash's has been loading for `quietMs` on end (a callback that another one's answer starts goes
# out well within that), timed in the page, which polls it once a frame.
DASH_SETTLED = """(quietMs) => {
  const busy = document.querySelector('[data-dash-is-loading="true"]') || document.querySelector('._dash-loading');
  const now = performance.now();
  if (busy || window.__dashQuietSince === undefined) { window.__dashQuietSince = busy ? undefined : now; return false; }
  return now - window.__dashQuietSince >= quietMs;
}"""
QUIET_MS = 300


@pytest.fixture(scope="module")
def registered_pages() -> list[dict]:
    out = subprocess.run([sys.executable, "-c", REGISTRY_SCRIPT], cwd=PROJECT_ROOT, capture_output=True, text=True,
                         timeout=90, check=True)
    pages = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(pages) >= 10, pages  # the product has more than ten pages: an empty registry would check nothing
    return pages


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


def _settle(page) -> None:
    page.wait_for_load_state("load")
    page.evaluate("() => { window.__dashQuietSince = undefined; }")  # a check after a click on the same page
    page.wait_for_function(DASH_SETTLED, arg=QUIET_MS, timeout=BROWSER_TIMEOUT_MS)


def _check(page, label: str, viewport: str, found: dict) -> None:
    """axe-core on the page as shown now, its sideways scroll on a phone, and a screenshot."""
    _settle(page)
    violations = page.evaluate(AXE_RUN)
    width = page.evaluate("() => document.scrollingElement.scrollWidth")
    wide = page.evaluate(PAST_THE_EDGE, PHONE_WIDTH + 1) if viewport == "phone" and width > PHONE_WIDTH + 1 else []
    found[label] = {"violations": violations, "scroll_width": width, "past_the_edge": wide}
    page.screenshot(path=str(SCREENSHOTS / f"{viewport}-{_slug(label)}.png"), full_page=True)


def _real_path(page, base: str, template: str) -> str:
    """A path template filled with an id from the demo data: the first link to such a page (or grid row) on the
    page one level up, e.g. /campaigns/<campaign_id> -> the first /campaigns/<n> link on /campaigns."""
    prefix = template.split("<", 1)[0]
    page.goto(f"{base}{prefix.rstrip('/') or '/'}")
    target = page.locator(f'a[href^="{prefix}"], .ag-row[row-id]').first
    target.wait_for(timeout=BROWSER_TIMEOUT_MS)
    href = target.get_attribute("href")
    if href:
        return href.split("?", 1)[0]
    return f"{prefix}{target.get_attribute('row-id')}"


def _report(viewport: str, found: dict) -> list[str]:
    lines, failures = [], []
    for label, result in found.items():
        for v in result["violations"]:
            line = f"[{viewport}] {label}: {v['impact']} {v['id']} x{v['count']} ({v['help']}): {v['nodes']}"
            lines.append(line)
            if v["impact"] in FAILING_IMPACTS:
                failures.append(line)
        if viewport == "phone" and result["scroll_width"] > PHONE_WIDTH + 1:
            failures.append(f"[{viewport}] {label}: scrolls sideways, document {result['scroll_width']} px wide; "
                            f"past the edge: {result['past_the_edge']}")
    by_impact: dict[str, int] = {}
    for result in found.values():
        for v in result["violations"]:
            by_impact[v["impact"]] = by_impact.get(v["impact"], 0) + v["count"]
    print(f"\n[{viewport}] {len(found)} pages checked; violations by impact (elements): {by_impact or 'none'}")
    print("\n".join(lines))
    return failures


@pytest.mark.timeout(420)
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_page_is_accessible_and_fits_the_screen(browser, live_server, registered_pages, viewport):
    require_service(AXE.exists(), f"axe-core not installed at {AXE} (npm ci --prefix tools/axe)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # Playwright's waits evaluate code in the page, which the app's policy forbids (see conftest's page)
    context = browser.new_context(viewport=VIEWPORTS[viewport], bypass_csp=True)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    context.set_default_navigation_timeout(BROWSER_TIMEOUT_MS)
    context.add_init_script(path=str(AXE))  # in every page before its own scripts: no round trip per page
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    found: dict = {}
    try:
        # Signed out: every page either is public (checked as it is) or sends the visitor to the login page.
        page.goto(f"{live_server}/login")
        _check(page, "signed out /login", viewport, found)
        public = [p for p in registered_pages if not p["path_template"]]
        for entry in public:
            page.goto(f"{live_server}{entry['path']}")
            if page.url.split("?", 1)[0] != f"{live_server}/login":
                _check(page, f"signed out {entry['path']}", viewport, found)
        page.get_by_label("Email").fill("demo@example.com")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("alert").wait_for()
        _check(page, "signed out /login (wrong password)", viewport, found)

        login(page, live_server)
        for entry in registered_pages:
            path = _real_path(page, live_server, entry["path_template"]) if entry["path_template"] else entry["path"]
            page.goto(f"{live_server}{path}")
            assert page.url.split("?", 1)[0] == f"{live_server}{path}", f"{path} sent the signed-in user elsewhere"
            _check(page, path, viewport, found)
    finally:
        context.close()
    failures = _report(viewport, found)
    assert len(found) >= len(registered_pages) + 2
    assert not failures, "\n" + "\n".join(failures)
    assert errors == [], errors


def _tab_to(page, selector: str, presses: int = 40) -> None:
    """Press Tab until the element matching selector has focus, as a keyboard user would reach it."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("(sel) => document.activeElement && document.activeElement.matches(sel)", selector):
            return
    pytest.fail(f"{selector} is not reached with Tab within {presses} presses")


@pytest.mark.timeout(180)
def test_the_phone_menu_and_a_dropdown_work_from_the_keyboard(browser, live_server):
    # Playwright's waits evaluate code in the page, which the app's policy forbids (see conftest's page)
    context = browser.new_context(viewport=VIEWPORTS["phone"], bypass_csp=True)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    try:
        login(page, live_server)
        _settle(page)
        nav = page.locator("nav.app-nav")
        assert not nav.is_visible()  # collapsed behind the menu button on a phone
        assert page.get_by_role("button", name="Sign out").is_visible()
        _tab_to(page, ".nav-toggle")
        page.keyboard.press("Enter")
        assert nav.is_visible()
        assert page.locator(".nav-toggle").get_attribute("aria-expanded") == "true"
        assert nav.get_by_role("link", name="Episodes").is_visible()
        page.keyboard.press("Escape")
        assert not nav.is_visible()
        assert page.evaluate("() => document.activeElement.classList.contains('nav-toggle')")

        # The comparison dropdown: reached with Tab on its labelled button, opened and chosen with the keyboard.
        _tab_to(page, "#overview-compare")
        page.keyboard.press("ArrowDown")
        page.get_by_role("option").first.wait_for()
        for _ in range(6):
            focused = page.evaluate("() => document.activeElement.value")
            if focused == "year":  # the option "Previous year"
                break
            page.keyboard.press("ArrowDown")  # then wait until the focus has moved on, so no press overshoots
            page.wait_for_function("(before) => document.activeElement.value !== before", arg=focused)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"compare=year"))
        assert "Previous year" in page.locator("#overview-compare").inner_text()
    finally:
        context.close()
