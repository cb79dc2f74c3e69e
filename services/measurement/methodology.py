"""The rules as applied, per tenant, in plain data: the methodology page states exactly these (IAB v2.3 asks every
measurer to disclose its methodology)."""
from __future__ import annotations

from sqlalchemy import select

from services.db import Database
from services.measurement.counting_rules import THRESHOLD_SECONDS
from services.measurement.useragents import default_classifier
from services.models import Tenant
from services.tenancy import TenantContext

RAW_RETENTION_DAYS = 90
WINDOWS = {
    "calendar": "one download per listener per episode per UTC calendar day",
    "first-touch": "one download per listener per episode per rolling 24 hours, starting at the first counted request",
    "last-touch": "repeat requests within 24 hours of the listener's previous request for the episode are merged",
}


def methodology(db: Database, ctx: TenantContext) -> dict:
    # Imported here: the attribution rules import households.py, which imports RAW_RETENTION_DAYS from this module.
    from services.sponsorship.attribution.methodology import attribution_rules
    from services.sponsorship.placements import DELIVERY_RULES

    with db.session(ctx.tenant_id) as s:
        tenant = s.scalar(select(Tenant).where(Tenant.id == ctx.tenant_id))
        attribution = attribution_rules(s, ctx)
    versions = default_classifier().versions()
    return {
        "tenant": tenant.name,
        "guidelines": "IAB Tech Lab Podcast Measurement Technical Guidelines v2.3",
        "dedupe_window": tenant.dedupe_window,
        "dedupe_rule": WINDOWS[tenant.dedupe_window],
        "timezone": tenant.timezone,
        "threshold": (f"Where bytes served are known (imported logs), a download needs at least {THRESHOLD_SECONDS} s "
                      "of audio at the file's byte rate (the whole file when it is shorter or its duration is "
                      "unknown); byte ranges of one listener, episode and day are reassembled, overlaps counted "
                      "once. Prefix redirects see no bytes, so the threshold cannot apply to them."),
        "excluded": [
            "requests other than GET (HEAD included)",
            "304 Not Modified and non-2xx responses",
            "requests for bytes 0-1 only (player probes)",
            "requests that map to no episode of the tenant's feeds (after stripping client parameters and "
            "tracking-prefix chains: podtrac, chartable, blubrry, op3 and others)",
        ],
        "bot_rules": versions["bot_rules"],
        "user_agents": {"source": versions["opawg_repository"], "commit": versions["opawg_commit_short"],
                        "commit_date": versions["opawg_commit_date"], "order": versions["match_order"],
                        "entries": versions["entry_counts"], "additions": versions["additions"],
                        "addition_counts": versions["addition_counts"]},
        "listener": ("IP address (IPv6 truncated to its /64) + User-Agent, hashed with a random secret that changes "
                     "every month; raw IP addresses are never stored"),
        "geography": "country and region from an offline IP database at ingestion time",
        "retention": (f"raw requests are kept {tenant.raw_request_retention_days or RAW_RETENTION_DAYS} days (once "
                      "counted); counted downloads and rollups are kept"),
        "attribution": attribution,
        "delivery": list(DELIVERY_RULES),
    }
