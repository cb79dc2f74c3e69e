"""Browser journeys on the production stack: the app on PostgreSQL (row-level security, the app role) with Redis
and a real RQ worker, as operators run it, instead of the embedded default: sign-in and the dashboards, a campaign
through the whole workflow, a log import counted by the worker, and two-factor sign-in."""
import subprocess
import sys
import time
from datetime import date, timedelta

import pyotp
import redis
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from rq import Queue
from standardwebhooks import Webhook

from services.settings import PROJECT_ROOT
from tests.e2e.conftest import choose, login, pick_date

# The traces Plotly drew in a graph, as the browser holds them (typed arrays made plain), so a test reads the numbers
# a person sees instead of counting SVG shapes.
TRACES = """id => Array.from(document.querySelector('#' + id + ' .js-plotly-plot')?._fullData || [], t => ({
    type: t.type, name: t.name, orientation: t.orientation || 'v',
    x: t.x ? Array.from(t.x) : [], y: t.y ? Array.from(t.y) : [],
    z: t.z ? Array.from(t.z, v => (v !== null && typeof v === 'object' ? Array.from(v) : v)) : [],
    locations: t.locations ? Array.from(t.locations) : []}))"""


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


def _traces(page, graph_id: str, kind: str = "bar", timeout: float = 30_000) -> list[dict]:
    """The graph's traces once it has drawn one of type `kind` (its first render has none; a period without
    downloads draws none either, so an empty chart ends in a timeout here)."""
    page.wait_for_function(f"({TRACES})('{graph_id}').some(t => t.type === '{kind}')", timeout=timeout)
    return page.evaluate(TRACES, graph_id)


def _bars(page, graph_id: str) -> dict[str, float]:
    """A bar chart's values by label: categories on y for ranked lists (horizontal), on x for timelines."""
    bar = next(t for t in _traces(page, graph_id) if t["type"] == "bar")
    labels, values = (bar["y"], bar["x"]) if bar["orientation"] == "h" else (bar["x"], bar["y"])
    return dict(zip(labels, values))


def _wait_for_bars(page, graph_id: str, count: int) -> dict[str, float]:
    page.wait_for_function(f"({TRACES})('{graph_id}').some(t => t.type === 'bar' && t.x.length === {count})",
                           timeout=30_000)
    return _bars(page, graph_id)


def _kpi(page, label: str) -> str:
    card = page.locator("#overview-kpis .kpi-card").filter(has=page.locator(".kpi-label", has_text=label)).first
    return card.locator(".kpi-value").inner_text()


def test_the_dashboards_show_the_demo_data_and_follow_the_period(page, production):
    """Every dashboard page, reached through the navigation, draws the demo network's numbers from PostgreSQL (the
    dashboard cache in Redis in between); another period redraws the charts and the KPI cards."""
    login(page, production.base)
    month = _wait_for_bars(page, "overview-downloads-chart", 30)
    assert sum(month.values()) > 1000 and all(v >= 0 for v in month.values())
    page.locator("#overview-kpis .kpi-card").nth(4).wait_for(timeout=15_000)
    month_downloads = _kpi(page, "Downloads")
    assert month_downloads not in ("—", "0") and _kpi(page, "Listeners (avg per day)") not in ("—", "0")
    top_apps = _bars(page, "overview-top-apps")
    assert "Apple Podcasts" in top_apps and min(top_apps.values()) > 0
    assert len(_bars(page, "overview-top-episodes")) >= 5
    assert min(_bars(page, "overview-top-countries").values()) > 0

    page.get_by_label("90 days").check()
    quarter = _wait_for_bars(page, "overview-downloads-chart", 90)
    page.wait_for_function("location.search === '?range=90d'")
    assert sum(quarter.values()) > sum(month.values())
    page.wait_for_function("month => document.querySelector('#overview-kpis .kpi-card .kpi-value').textContent "
                           "!== month", arg=month_downloads, timeout=30_000)
    assert _kpi(page, "Downloads") not in ("—", "0")
    assert page.errors == []

    page.get_by_role("link", name="Audience").click()
    page.wait_for_url(f"{production.base}/audience*")
    world = next(t for t in _traces(page, "audience-map", "choropleth") if t["type"] == "choropleth")
    assert "USA" in world["locations"] and sum(world["z"]) > 0
    apps = _bars(page, "audience-apps")
    assert {"Apple Podcasts", "Spotify"} <= set(apps) and min(apps.values()) > 0
    assert "mobile" in _bars(page, "audience-devices") and "iOS" in _bars(page, "audience-os")
    heatmap = next(t for t in _traces(page, "audience-heatmap", "heatmap") if t["type"] == "heatmap")
    assert len(heatmap["z"]) == 7 and sum(v or 0 for row in heatmap["z"] for v in row) > 0
    page.get_by_label("7 days").check()  # a shorter period: the same apps with fewer downloads each
    page.wait_for_function("location.search.includes('range=7d')")
    page.wait_for_function(f"({TRACES})('audience-apps').some(t => t.type === 'bar' && "
                           f"t.x.reduce((a, b) => a + b, 0) < {sum(apps.values())})", timeout=30_000)
    week = _bars(page, "audience-apps")
    assert "Apple Podcasts" in week and week["Apple Podcasts"] < apps["Apple Podcasts"]
    assert page.errors == []

    page.get_by_role("link", name="Episodes").click()
    page.wait_for_url(f"{production.base}/episodes?range=7d")  # the period goes along with the navigation
    page.locator(".ag-row").first.wait_for(timeout=20_000)  # the week's releases, before the period changes
    page.get_by_label("12 months").check()
    page.wait_for_function("location.search === '?range=12m'")
    page.locator(".ag-row").nth(10).wait_for(timeout=20_000)
    first = page.locator(".ag-row").first
    title = first.locator("[col-id=episode]").inner_text()
    assert title and "#" in title
    first.locator("[col-id=episode]").click()
    page.wait_for_function("location.pathname.startsWith('/episodes/')")
    page.get_by_role("heading", name=title).wait_for(timeout=20_000)
    curves = {t["name"]: t for t in _traces(page, "episode-launch-chart", "scatter") if t["type"] == "scatter"}
    assert title in curves and "Show median" in curves
    launch = curves[title]["y"]
    assert launch and launch[0] > 0 and launch == sorted(launch)  # a launch curve is cumulative
    assert min(_bars(page, "episode-apps").values()) > 0 and "mobile" in _bars(page, "episode-devices")
    assert min(_bars(page, "episode-countries").values()) > 0
    assert page.errors == []
    cached = redis.Redis.from_url(production.redis_url).scan_iter("dashcache:t*", count=1000)
    assert next(cached, None) is not None  # the answers went through the cache in Redis


LOG_LINE = ('198.51.100.{i} - - [{day:%d/%b/%Y}:12:{i:02d}:00 +0000] "GET /market-hours/0050.mp3 HTTP/1.1" 200 3000000 '
            '"-" "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"')
LISTENERS = 40  # one download each: their own address, a whole minute of the episode

# Keeps every value the progress bar and the status line take, so the test sees the steps between two of its reads.
WATCH_PROGRESS = """() => {
    window.progressSeen = [];
    const bar = document.getElementById('logs-progress'), status = document.getElementById('logs-status');
    const note = () => window.progressSeen.push([Number(bar.value), status.innerText]);
    new MutationObserver(note).observe(bar, {attributes: true});
    new MutationObserver(note).observe(status, {childList: true, subtree: true, characterData: true});
}"""


def _day_downloads(page, base: str, day: date) -> float:
    """The network's downloads on `day`, as the overview's chart draws them for that one day."""
    page.goto(f"{base}/?range=custom&from={day.isoformat()}&to={day.isoformat()}")
    return sum(_wait_for_bars(page, "overview-downloads-chart", 1).values())


def test_an_uploaded_log_is_counted_by_the_worker_with_progress(page, production, tmp_path):
    """The log import page on the production stack: the upload becomes a job on the `imports` queue that the real
    worker runs; the page's progress bar follows it to the end; the day it covers then counts the log's listeners."""
    day = date.today() - timedelta(days=3)  # after the episode's release, inside the demo's history
    imports = Queue("imports", connection=redis.Redis.from_url(production.redis_url))
    login(page, production.base)
    before = _day_downloads(page, production.base, day)
    assert before > 0

    page.get_by_role("link", name="Log import").click()
    page.wait_for_url(f"{production.base}/logs")
    page.locator("#logs-table table, #logs-table p").first.wait_for(timeout=15_000)  # the page is live
    log = tmp_path / "cdn-access.log"
    log.write_text("\n".join(LOG_LINE.format(i=i, day=day) for i in range(1, LISTENERS + 1)) + "\nnot a log line\n")
    page.locator("#logs-upload input[type=file]").set_input_files(str(log))
    page.get_by_placeholder("media host, if the log has none").fill("media.example.com")
    assert page.locator("#logs-progress").evaluate("bar => bar.value") == 0
    page.evaluate(WATCH_PROGRESS)
    page.get_by_role("button", name="Import").click()
    page.wait_for_function("Number(document.getElementById('logs-progress').value) === 1", timeout=60_000)
    status = page.locator("#logs-status")
    status.get_by_text(f"{LISTENERS} requests stored").wait_for(timeout=15_000)
    text = status.inner_text()
    assert (f"cdn-access.log: {LISTENERS + 1} lines, {LISTENERS} requests stored, 0 matched no episode, "
            "1 bad lines") in text
    assert f"now count {before + LISTENERS} downloads" in text and f"line {LISTENERS + 1}: unparseable line" in text
    seen = page.evaluate("window.progressSeen")
    values = [value for value, _ in seen]
    assert values == sorted(values) and values[-1] == 1  # the bar only moves forwards, to the end
    assert [message for value, message in seen if value < 1 and message], seen  # it showed the job under way
    page.locator("#logs-table tbody tr").filter(has_text="cdn-access.log").wait_for(timeout=15_000)

    jobs = [imports.fetch_job(job_id) for job_id in imports.finished_job_registry.get_job_ids()]
    ran = [job for job in jobs if job and (job.return_value() or {}).get("filename") == "cdn-access.log"]
    assert len(ran) == 1 and ran[0].worker_name  # the worker ran it, not the web process
    assert ran[0].return_value()["imported"] == LISTENERS and ran[0].meta["progress"] == 1.0

    assert _day_downloads(page, production.base, day) == before + LISTENERS  # no stale answer from the cache
    assert page.errors == []


MFA_EMAIL, MFA_PASSWORD = "mfa-analyst@demo.test", "mfa-analyst-password-1"  # its own user: the demo owner keeps
# signing in with a password alone in the other tests, whatever order they run in


def _unused_code(totp: pyotp.TOTP) -> str:
    """A six-digit code that none of the steps around now accepts."""
    now = time.time()
    valid = {totp.at(now + step) for step in (-60, -30, 0, 30, 60)}
    nearby = (f"{(int(totp.now()) + k) % 1_000_000:06d}" for k in range(1, 10))
    return next(code for code in nearby if code not in valid)


def _sign_in_form(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_two_factor_sign_in_on_the_production_stack(page, production):
    """TOTP set up from /account/security is kept in PostgreSQL: after signing out, the password alone leads to the
    code step, a wrong code is refused, the authenticator's code signs in."""
    create_user = [sys.executable, "-m", "flask", "--app", "app", "create-user", MFA_EMAIL, "--tenant", "demo",
                   "--role", "viewer", "--password", MFA_PASSWORD]
    result = subprocess.run(create_user, cwd=PROJECT_ROOT, env={**production.env, "LOG_LEVEL": "WARNING"},
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    login(page, production.base, MFA_EMAIL, MFA_PASSWORD)
    page.get_by_role("link", name="Security").click()
    page.wait_for_url(f"{production.base}/account/security")
    totp = pyotp.TOTP(page.locator("#mfa-secret").inner_text().strip())
    page.get_by_label("Code from the app").fill(totp.now())
    page.get_by_role("button", name="Turn on").click()
    page.locator("#recovery-codes li").nth(9).wait_for(timeout=15_000)
    assert "is on" in page.locator("#mfa-state").inner_text()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{production.base}/login")

    _sign_in_form(page, production.base, MFA_EMAIL, MFA_PASSWORD)
    page.wait_for_url(f"{production.base}/login/mfa")
    page.get_by_label("Code", exact=True).fill(_unused_code(totp))
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("alert").filter(has_text="wrong or already used code").wait_for(timeout=15_000)
    assert page.url == f"{production.base}/login/mfa"
    home = page.request.get(f"{production.base}/", max_redirects=0, timeout=15_000)  # still not signed in
    assert home.status == 302 and "/login" in home.headers["location"]
    # The refusal is a 401 page, which Chromium reports as a failed resource: that one error and no other.
    assert page.errors and all("status of 401" in error for error in page.errors), page.errors
    page.errors.clear()

    page.get_by_label("Code", exact=True).fill(totp.at(time.time() + 30))  # a later step than enrolment's code
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{production.base}/")
    page.locator("#overview-downloads-chart .barlayer .point").first.wait_for(timeout=30_000)
    assert page.locator("#shell-user").inner_text() == MFA_EMAIL
    assert page.errors == []
