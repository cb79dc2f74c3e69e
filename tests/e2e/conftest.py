"""The e2e tier: the real app started as `python app.py` would be, driven by Playwright in Debian's Chromium."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from services.settings import PROJECT_ROOT
from tests.conftest import DEMO_PASSWORD, require_service

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
BROWSER_TIMEOUT_MS = 30_000
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVER_START_SECONDS = 180  # seeding the demo takes over a minute on a busy host
LIVE_INSTANCES: dict[str, Path] = {}  # live server base URL -> its instance folder (for the CLI against its database)


@pytest.fixture(scope="package")  # stopped when the e2e tier ends, not idling through the other tiers
def live_server(tmp_path_factory):
    """`python app.py` on a fresh instance folder; yields its base URL."""
    port = _free_port()
    instance = tmp_path_factory.mktemp("e2e-instance")
    env = {**os.environ, "INSTANCE_PATH": str(instance), "PORT": str(port), "DEMO_PASSWORD": DEMO_PASSWORD,
           "LOG_LEVEL": "WARNING", "LOGIN_RATE_LIMIT_IP": "600/minute"}  # one server signs in every e2e test
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    log = open(instance / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.3)
    else:
        proc.kill()
        proc.wait(timeout=10)  # so the check below reports it instead of yielding a server that is not there
    if proc.poll() is not None:
        pytest.fail(f"app did not start: {(instance / 'server.log').read_text()[-2000:]}")
    LIVE_INSTANCES[base] = instance
    yield base
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


def login(page, base: str, email: str = "demo@example.com", password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login form, as a person would, and land on the overview."""
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def choose(page, dropdown_id: str, option: str) -> None:
    """Pick `option` in the Dash dropdown `dropdown_id` as a person would, then close its menu."""
    page.locator(f"#{dropdown_id}").click()
    page.get_by_role("option", name=option).first.click()
    page.keyboard.press("Escape")


def pick_date(page, picker_id: str, day) -> None:
    """Set the Dash date picker `picker_id` to `day` (a date) as a person typing into it would, then close it."""
    field = page.locator(f"#{picker_id}")
    field.click()
    field.fill(day.isoformat())
    field.press("Enter")
    page.keyboard.press("Escape")


@pytest.fixture(scope="package")
def browser():
    require_service(Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser context; console errors and page errors are collected in page.errors.

    The app's Content-Security-Policy is bypassed here: Playwright's own tools (wait_for_function's string
    predicates, the axe-core script tag) evaluate code in the page, which the policy rightly forbids. The policy
    itself is checked, enforced, with `csp_page` (tests/e2e/test_security_headers.py)."""
    yield from _page(browser, request, bypass_csp=True)


@pytest.fixture
def csp_page(browser, request):
    """Like `page`, with the app's Content-Security-Policy enforced."""
    yield from _page(browser, request, bypass_csp=False)


def _page(browser, request, bypass_csp: bool):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, bypass_csp=bypass_csp)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)  # every wait for an element or a navigation ends in an error
    context.set_default_navigation_timeout(BROWSER_TIMEOUT_MS)
    page = context.new_page()
    page.errors = []
    page.on("console", lambda msg: page.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture(scope="package")
def production(tmp_path_factory):
    """The production stack (tests/e2e/stack.py): PostgreSQL, Redis, a real worker, local SMTP and webhook receiver."""
    from tests.integration.conftest import _pg_available, _redis_available

    for problem in (_pg_available(), _redis_available()):
        require_service(problem is None, problem or "")
    from tests.e2e.stack import production_stack

    with production_stack(tmp_path_factory.mktemp("e2e-production")) as stack:
        yield stack


def pytest_collection_modifyitems(config, items):
    """Mark every test of this tier 'e2e', so `-m e2e` selects the tier and `-m "not e2e"` leaves it out.

    Pytest hands every collected item to each conftest's hook: only this directory's are marked."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)
