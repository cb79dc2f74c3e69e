"""Streamed CSV exports under /api/v1/exports: session or API key, tenant-scoped, the same rows the dashboards show."""
import io

import pandas as pd

from services import accounts, api_keys
from services.dashboards import episodes
from services.dashboards.periods import ViewState
from services.tenancy import TenantContext


def _demo_ctx(db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    return TenantContext(tenant_id=tenant.id, role="owner")


def test_episodes_export_with_a_session_is_the_grid(demo_client, db):
    response = demo_client.get("/api/v1/exports/episodes.csv?range=90d")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    assert "attachment; filename=episodes_90d.csv" == response.headers["Content-Disposition"]
    grid = episodes.episode_grid(db, _demo_ctx(db), ViewState(range="90d"))
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(response.data)),
                                  pd.read_csv(io.StringIO(grid.to_csv(index=False))))


def test_episode_days_export_with_an_api_key(client, db):
    ctx = _demo_ctx(db)
    _, key = api_keys.create_api_key(db, ctx, "exports", ("read",))
    response = client.get("/api/v1/exports/episode-days.csv?range=all&podcast=2",
                          headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    frame = pd.read_csv(io.BytesIO(response.data))
    assert set(frame["podcast_id"]) == {2} and frame["downloads"].sum() > 1000


def test_exports_refuse_anonymous_other_tenants_and_unknown_names(app, client, db):
    assert client.get("/api/v1/exports/episodes.csv").status_code == 401
    acme = accounts.create_tenant(db, "acme", "Acme")
    _, key = api_keys.create_api_key(db, TenantContext(tenant_id=acme.id, role="owner"), "acme", ("read",))
    auth = {"Authorization": f"Bearer {key}"}
    response = client.get("/api/v1/exports/episode-days.csv?podcast=1", headers=auth)
    assert response.status_code == 404 and response.content_type == "application/problem+json"
    response = client.get("/api/v1/exports/episode-days.csv?range=all", headers=auth)
    assert response.status_code == 200 and response.data.decode().strip() == \
        "day,episode_id,episode,podcast_id,downloads,listeners"  # its own tenant: nothing
    assert client.get("/api/v1/exports/secrets.csv", headers=auth).status_code == 422
