"""Browser journeys on the production stack: the app on PostgreSQL (row-level security, the app role) with Redis
and a real RQ worker, as operators run it, instead of the embedded default."""
from tests.e2e.conftest import login


def test_login_and_overview_on_postgres_with_redis_and_a_worker(page, production):
    login(page, production.base)
    page.locator("#overview-downloads-chart .barlayer .point").first.wait_for(timeout=30_000)
    assert page.locator("#overview-downloads-chart .barlayer .point").count() >= 30
    assert page.locator("#shell-tenant").inner_text() == "Demo Network"
    assert page.errors == []
