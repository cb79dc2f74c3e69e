"""The counting-lag reading, checked the same way on SQLite (tests/unit) and on PostgreSQL through app_ops_reading()
(tests/integration): a real count clears it, and a request after a tenant's last count shows how long it waited."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from services import accounts, lookups
from services.measurement import counting
from services.models import CountingState, DownloadRequest, Tenant
from services.ops_metrics import read_ops


def _lag(db, now: datetime) -> float:
    return read_ops(db, now=now)["counting_lag_seconds"][()]


def _request(db, tenant_id: int, ts: datetime) -> None:
    with db.session(tenant_id, worker=True) as s:
        s.add(DownloadRequest(request_uid=uuid.uuid4().hex, ts=ts, tenant_id=tenant_id, source="prefix", method="GET",
                              url="https://media.example.com/a.mp3", listener_key="l" * 32))
        s.commit()


def check_counting_lag(db) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with db.session(system=True) as s:
        tenant_ids = list(s.scalars(select(Tenant.id)))
    for tenant_id in tenant_ids:  # every tenant counted up to its newest request: nothing waits
        counting.count_downloads(db, tenant_id)
    assert "oldest_uncounted_request" not in lookups.ops_reading(db)
    assert _lag(db, now) == 0.0

    tenant = accounts.create_tenant(db, f"lag-{uuid.uuid4().hex[:8]}", "Lag")
    _request(db, tenant.id, now - timedelta(minutes=3))  # a tenant never counted: its first request waits
    assert abs(_lag(db, now) - 180.0) < 1.0
    counting.count_downloads(db, tenant.id)
    assert _lag(db, now + timedelta(seconds=30)) == 0.0  # counted: a same-day request no longer waits

    # The last count finished 10 minutes ago; requests came 7 and 2 minutes ago: the older one has waited 7 minutes.
    with db.session(system=True) as s:
        s.execute(update(CountingState).where(CountingState.tenant_id == tenant.id)
                  .values(updated_at=now - timedelta(minutes=10)))
        s.commit()
    _request(db, tenant.id, now - timedelta(minutes=7))
    _request(db, tenant.id, now - timedelta(minutes=2))
    assert abs(_lag(db, now) - 420.0) < 1.0
    counting.count_downloads(db, tenant.id)
    assert _lag(db, datetime.now(timezone.utc)) == 0.0
