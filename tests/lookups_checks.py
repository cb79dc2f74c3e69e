"""The web lookups' answers, checked the same way on SQLite (tests/unit/test_lookups.py) and PostgreSQL
(tests/integration/test_web_login_postgres.py): each kind names its row's tenant, unknown keys name none, and the
session that asked still sees no tenant's rows."""
from __future__ import annotations

from sqlalchemy import select, text

from services import lookups
from services.db import Database
from services.models import ApiKey, Embed, Podcast, Sponsor, TrackingLink


def check_every_kind(db: Database, tenant_id: int) -> None:
    """`db` holds the demo network as `tenant_id` (with an embed and an API key of it) and at least one other."""
    with db.session(tenant_id) as s:
        keys = {
            "api_key": s.scalar(select(ApiKey.key_hash).where(ApiKey.tenant_id == tenant_id).limit(1)),
            "embed": s.scalar(select(Embed.id).where(Embed.tenant_id == tenant_id).limit(1)),
            "prefix": s.scalar(select(Podcast.prefix_key).where(Podcast.tenant_id == tenant_id).limit(1)),
            "link": s.scalar(select(TrackingLink.code).where(TrackingLink.tenant_id == tenant_id).limit(1)),
            "pixel": s.scalar(select(Sponsor.pixel_key).where(Sponsor.tenant_id == tenant_id).limit(1)),
        }
    assert all(v is not None for v in keys.values()), keys
    for kind, key in keys.items():
        assert lookups.tenant_of(db, kind, key) == tenant_id, kind
        assert lookups.tenant_of(db, kind, "no-such-key" if kind != "embed" else 10 ** 12) is None, kind
    for odd in ("12x", "-1", "9" * 19, ""):
        assert lookups.tenant_of(db, "embed", odd) is None
    with db.session() as s:
        assert lookups.enter_tenant_of(s, "prefix", keys["prefix"]) == tenant_id
        assert s.info["tenant_id"] == tenant_id  # the session now belongs to that tenant, and reads its rows
        assert s.scalars(select(Podcast.tenant_id)).all()
        if db.is_postgres:
            assert set(s.scalars(select(Podcast.tenant_id))) == {tenant_id}
            assert s.execute(text("SELECT current_setting('app.system', true)")).scalar() == "off"
    with db.session() as s:
        assert lookups.enter_tenant_of(s, "pixel", "no-such-key") is None and s.info.get("tenant_id") is None


def check_user_memberships(db: Database, user_id: int, tenant_ids: list[int]) -> None:
    with db.session() as s:
        found = lookups.user_memberships(s, user_id)
    assert sorted(m.tenant_id for m in found) == sorted(tenant_ids)
    with db.session() as s:
        assert lookups.user_memberships(s, 10 ** 12) == []
