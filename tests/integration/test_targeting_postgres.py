"""Targeted delivery on PostgreSQL, as the web role behind row-level security and the tenant views: the constructed
history of tests/unit/campaigns/targeting_scenario.py gives the same delivery, reach, pacing, spend, forecast and
attribution exposures as on SQLite; campaign_metrics keeps its forced tenant policy after migration 0021."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from services import migrate
from services.db import Database
from services.errors import NotFound
from services.sponsorship import delivery
from services.tenancy import TenantContext
from tests.unit.campaigns import targeting_scenario as geo
from tests.unit.campaigns.test_targeting import (
    NAMES, check_attribution_exposures_follow_the_rule, check_delivery_follows_the_rule,
    check_forecast_scales_by_the_target_share,
)


@pytest.fixture
def pg_geo(pg_url):
    migrate.upgrade(pg_url)
    db = Database(pg_url, "podcast_app")
    sc = geo.build(db)
    for campaign_id in sc.campaigns.values():
        delivery.refresh_campaign(db, sc.tenant_id, campaign_id)
    yield db, sc
    db.dispose()


def test_the_rule_on_postgres(pg_geo):
    db, sc = pg_geo
    for name in NAMES:
        check_delivery_follows_the_rule(db, sc, name)
    check_forecast_scales_by_the_target_share(db, sc)
    check_attribution_exposures_follow_the_rule(db, sc)


def test_country_rows_are_walled_per_tenant(pg_geo, pg_url):
    db, sc = pg_geo
    rival = geo.build(db, slug="rival")
    delivery.refresh_campaign(db, rival.tenant_id, rival.campaigns["everywhere"])
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        forced = conn.execute("SELECT relrowsecurity AND relforcerowsecurity FROM pg_class "
                              "WHERE relname = 'campaign_metrics'").fetchone()[0]
        key = [r[0] for r in conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'campaign_metrics'::regclass AND i.indisprimary")]
        insertion = conn.execute("SELECT column_default FROM information_schema.columns "
                                 "WHERE table_name = 'placements' AND column_name = 'insertion'").fetchone()[0]
    assert forced and "country" in key and "dynamic" in insertion
    with db.session(rival.tenant_id) as s:  # no WHERE of our own: the policy alone hides the other tenant's rows
        countries = s.execute(text("SELECT DISTINCT tenant_id, country FROM campaign_metrics ORDER BY 2")).all()
    assert countries == [(rival.tenant_id, c) for c in ("DE", "GB", "US", "ZZ")]
    stranger = TenantContext(rival.tenant_id, "owner")
    with pytest.raises(NotFound):
        delivery.delivery_by(db, stranger, sc.campaigns["targeted"], "country")
    own = delivery.delivery_by(db, TenantContext(sc.tenant_id, "sponsor", sponsor_id=sc.sponsor_id),
                               sc.campaigns["targeted"], "country")
    assert dict(own.itertuples(index=False, name=None)) == {"US": 30, "GB": 10}
