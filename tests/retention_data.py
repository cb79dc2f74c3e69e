"""Raw requests and conversions of known ages for the retention tests, and what is left of them."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from services.models import AttributionEvent, CountingState, DownloadRequest
from services.models.attribution import AttributionTouchpoint
from tests.dash_client import call_callback

AGES = (5, 35, 45)  # days: kept by 30-day retention, past it, and past it further


def plant(db, tenant_id: int, tag: str, counted_days_ago: int | None = 0, now: datetime | None = None) -> None:
    """One raw request, one conversion and its touchpoint per age in AGES, ids starting with `tag`; counting done
    up to `counted_days_ago` days ago (None: never counted)."""
    now = now or datetime.now(timezone.utc)
    with db.session(system=True) as s:
        for age in AGES:
            ts = now - timedelta(days=age, hours=1)
            s.add(DownloadRequest(request_uid=f"{tag}-{age}", ts=ts, tenant_id=tenant_id, source="prefix",
                                  method="GET", url="https://cdn.example.com/a.mp3", listener_key="k" * 32))
            s.add(AttributionEvent(ts=ts, sponsor_id=1, event_id=f"{tag}-{age}", tenant_id=tenant_id,
                                   source="pixel", type="purchase"))
            s.add(AttributionTouchpoint(conversion_ts=ts, campaign_id=1, event_id=f"{tag}-{age}", touch=0,
                                        tenant_id=tenant_id, household_key="h" * 32, conversion_type="purchase",
                                        exposure_ts=ts - timedelta(days=1), placement_id=1, podcast_id=1,
                                        episode_id=1, days_since_exposure=1.0, first_touch=1.0, last_touch=1.0,
                                        linear=1.0, time_decay=1.0, position_based=1.0, markov=1.0, shapley=1.0))
        if counted_days_ago is not None:
            state = s.get(CountingState, tenant_id) or CountingState(tenant_id=tenant_id)
            state.counted_until = (now - timedelta(days=counted_days_ago)).replace(hour=0, minute=0, second=0,
                                                                                   microsecond=0)
            s.add(state)
        s.commit()


def left(db, tag: str) -> dict[str, list[int]]:
    """The ages of the planted rows still there, per kind."""
    found = {}
    with db.session(system=True) as s:
        for kind, model, column in (("raw", DownloadRequest, DownloadRequest.request_uid),
                                    ("conversions", AttributionEvent, AttributionEvent.event_id),
                                    ("touchpoints", AttributionTouchpoint, AttributionTouchpoint.event_id)):
            ids = s.scalars(select(column).where(column.like(f"{tag}-%"))).all()
            found[kind] = sorted(int(i.rsplit("-", 1)[1]) for i in ids)
    return found


def count(db, model, tenant_id: int) -> int:
    with db.session(system=True) as s:
        return s.scalar(select(func.count()).select_from(model).where(model.tenant_id == tenant_id)) or 0


def save_retention(client, raw, conversions) -> tuple[str, str, str]:
    """Save the privacy page's retention form: (raw days, conversion days, status text) as the page shows them."""
    status, out = call_callback(client, [("privacy-raw-days", "value"), ("privacy-conversion-days", "value"),
                                         ("privacy-retention-status", "children")],
                                [("privacy-retention-save", "n_clicks", 1)],
                                [("privacy-raw-days", "value", raw), ("privacy-conversion-days", "value", conversions)])
    assert status == 200
    return (out.get("privacy-raw-days", {}).get("value"), out.get("privacy-conversion-days", {}).get("value"),
            json.dumps(out["privacy-retention-status"]["children"]))
