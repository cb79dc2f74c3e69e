"""The methodology page's Attribution section: every rule stated with the figures the code applies, and the
campaign-specific values (lookback, half-life) as this network's campaigns use them, or the defaults."""
from __future__ import annotations

import json

from services import accounts
from services.sponsorship import campaigns
from services.measurement.methodology import methodology
from services.sponsorship.attribution import households, shapley
from services.tenancy import TenantContext
from tests.dash_client import call_callback


def test_the_attribution_section_states_each_rule_with_the_applied_figures(db, demo_client):
    status, out = call_callback(demo_client, [("methodology-body", "children")],
                                [("methodology-url", "pathname", "/methodology")])
    text = json.dumps(out)
    assert status == 200 and "Attribution" in text
    for phrase in ("Pixel", "Server to server", "Tracking links", "Promo codes", "counts once",
                   "IP address alone", "/64", "never the User-Agent", f"per {households.EPOCH_DAYS}-day epoch",
                   "up to 60 days back", f"deleted {households.SECRET_KEPT_DAYS} days after its epoch ends",
                   "never stored", "the same rule as delivery", "1-60 days", "before the household's first exposure",
                   "60 days before its first exposure", "mobile-carrier", "geoip2fast", "20%",
                   "without needing an exposure", "reported separately", "First touch", "Last touch", "Linear",
                   "Time decay", "40% to the first touch", "two touches 50/50", "removal effects computed exactly",
                   f"exact up to {shapley.MAX_EXACT_CHANNELS} channels", "seed 0", "95% interval",
                   "below 30 households or 5 converters", "too few to say"):
        assert phrase in text, phrase
    assert households.SECRET_KEPT_DAYS == 150 and households.EPOCH_DAYS == 90


def test_campaign_values_are_the_networks_or_the_defaults(db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    staff = TenantContext(tenant.id, "editor")
    before = methodology(db, staff)["attribution"]
    n = len(campaigns.list_campaigns(db, staff))
    assert f"30 days ({n} campaigns)" in before["lookback"]  # the demo's campaigns keep the default
    target = next(c for c in campaigns.list_campaigns(db, staff) if c.status in campaigns.EDITABLE_STATUSES)
    campaigns.update_campaign(db, staff, target.id, {"lookback_days": 14, "decay_half_life_days": 3.5})
    after = methodology(db, staff)["attribution"]
    assert "14 days (1 campaign), 30 days" in after["lookback"]
    assert "3.5 days (1 campaign)" in dict(after["models"])["Time decay"]
    # A sponsor user sees its own campaigns' values; a network with no campaigns, the defaults.
    own = methodology(db, TenantContext(tenant.id, "sponsor", sponsor_id=target.sponsor_id))["attribution"]
    assert "14 days (1 campaign)" in own["lookback"]
    other = accounts.create_tenant(db, "acme", "Acme")
    empty = methodology(db, TenantContext(other.id, "owner"))["attribution"]
    assert "no campaigns yet: the default, 30 days, applies" in empty["lookback"]
    assert "the default, 7 days" in dict(empty["models"])["Time decay"]
