"""Two-factor sign-in in the browser: set it up from the header's Security link with the QR page's key, then sign in
again with a code from the authenticator, without console errors; both pages pass axe-core's serious and critical
rules."""
import os
import subprocess
import sys
import time

import pyotp
import pytest

from services.settings import PROJECT_ROOT
from tests.conftest import require_service
from tests.e2e.conftest import LIVE_INSTANCES, login
from tests.e2e.test_accessibility import AXE, AXE_RUN, FAILING_IMPACTS

EMAIL, PASSWORD = "mfa-viewer@demo.test", "mfa-password-1"


def _create_user(base: str) -> None:
    env = {**os.environ, "INSTANCE_PATH": str(LIVE_INSTANCES[base]), "LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "create-user", EMAIL, "--tenant", "demo",
                             "--role", "viewer", "--password", PASSWORD], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def _serious_violations(page) -> list:
    return [v for v in page.evaluate(AXE_RUN) if v["impact"] in FAILING_IMPACTS]


@pytest.mark.timeout(420)  # run alone, it also waits for the app's start (the demo seeds ~1 min)
def test_enrol_then_sign_in_with_a_totp_code(page, live_server):
    require_service(AXE.exists(), f"axe-core not installed at {AXE} (npm ci --prefix tools/axe)")
    page.context.add_init_script(path=str(AXE))
    _create_user(live_server)
    login(page, live_server, EMAIL, PASSWORD)
    page.get_by_role("link", name="Security").click()
    page.wait_for_url(f"{live_server}/account/security")
    assert page.locator("#mfa-qr").is_visible()
    assert page.locator("#mfa-qr").get_attribute("src").startswith("data:image/svg+xml")
    assert _serious_violations(page) == []
    totp = pyotp.TOTP(page.locator("#mfa-secret").inner_text())
    page.get_by_label("Code from the app").fill(totp.now())
    page.get_by_role("button", name="Turn on").click()
    page.locator("#recovery-codes li").nth(9).wait_for()
    assert "is on" in page.locator("#mfa-state").inner_text()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server}/login")

    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/login/mfa")
    assert _serious_violations(page) == []
    page.get_by_label("Code", exact=True).fill(totp.at(time.time() + 30))  # a later step than enrolment's code
    page.get_by_label("Remember this device for 30 days").check()
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{live_server}/")
    page.locator("#overview-downloads-chart .barlayer .point").first.wait_for(timeout=20_000)
    assert page.locator("#shell-user").inner_text() == EMAIL
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["mfa_device"]["httpOnly"]
    assert page.errors == []
