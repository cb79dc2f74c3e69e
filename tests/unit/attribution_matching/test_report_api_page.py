"""The report service, the API route, the campaign page's Attribution callbacks and the CLI command on the
hand-worked case: figures, and that another tenant and another sponsor's user see nothing of it."""
from __future__ import annotations

import base64
import json

import pytest

from services import accounts, api_keys
from services.errors import NotFound, PermissionDenied, ValidationError
from services.models import Sponsor
from services.sponsorship.attribution import report
from services.sponsorship.attribution.results import attribute_campaign
from services.tenancy import TenantContext
from tests.conftest import DEMO_PASSWORD
from tests.campaign_client import WHOLE_FLIGHT
from tests.dash_client import call_callback
from tests.unit.attribution_matching import scenario

PASSWORD = "password-123"
OUTPUTS = scenario.SECTION_OUTPUTS


@pytest.fixture
def world(db, brew):
    """The brew tenant attributed once, with an owner, its sponsor's user, another sponsor's user and a viewer."""
    with db.session(brew.tenant_id) as s:
        other = Sponsor(tenant_id=brew.tenant_id, name="Other Co")
        s.add(other)
        s.commit()
        other_id = other.id
    accounts.create_user(db, "owner@brew.test", "brew", "owner", password=PASSWORD)
    accounts.create_user(db, "viewer@brew.test", "brew", "viewer", password=PASSWORD)
    accounts.create_user(db, "own@brew.test", "brew", "sponsor", password=PASSWORD, sponsor_id=brew.sponsor_id)
    accounts.create_user(db, "other@brew.test", "brew", "sponsor", password=PASSWORD, sponsor_id=other_id)
    attribute_campaign(db, brew.tenant_id, brew.campaign_id)
    return {"sc": brew, "other_sponsor": other_id}


def _login(app, email, password=PASSWORD):
    client = app.test_client()
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302
    return client


def _view(client, campaign_id, model=None, recompute=False):
    changed = ["campaign-attribution-recompute.n_clicks"] if recompute else ["campaign-id.data"]
    return call_callback(client, OUTPUTS, [("campaign-id", "data", campaign_id),
                                           ("campaign-attribution-model", "value", model),
                                           ("campaign-attribution-recompute", "n_clicks", 1 if recompute else None),
                                           *WHOLE_FLIGHT],
                         changed=changed)


def test_report_figures(db, world):
    sc = world["sc"]
    result = report.attribution_report(db, TenantContext(sc.tenant_id, "owner"), sc.campaign_id, "linear",
                                       "placement")
    rows = {r["placement_id"]: r for r in result.rows.to_dict("records")}
    # Linear: PA 7/6, PB 5/6; revenue: h1 50 split 25/25, h2 30 split 20 (PA twice) / 10.
    assert rows[sc.pa]["conversions"] == pytest.approx(7 / 6, abs=1e-4) and rows[sc.pa]["revenue"] == 45.0
    assert rows[sc.pb]["conversions"] == pytest.approx(5 / 6, abs=1e-4) and rows[sc.pb]["revenue"] == 35.0
    assert "Show A · A1 · pre" in result.rows["placement"].tolist()
    summary = result.summary
    # 2 matched + 1 promo-code-only conversion; revenue 50 + 30 + 40.
    assert (summary["conversions"], summary["modelled_conversions"], summary["revenue"]) == (3, 2, 120.0)
    assert summary["promo_code_conversions"] == 1 and summary["households_reached"] == 2
    assert summary["cr"] == pytest.approx(1.0) and summary["aov"] == pytest.approx(40.0)
    assert summary["lift"]["enough_data"] is False and summary["computed_at"]
    assert result.lag["days_since_exposure"].tolist() == [1, 3, 4, 5]
    assert result.daily["conversions"].tolist() == [1.0, 1.0]
    # The campaign's own model (linear) is the default.
    assert report.attribution_report(db, TenantContext(sc.tenant_id, "owner"), sc.campaign_id).model == "linear"


def test_report_spend_roas_cpa_follow_delivery(db, world):
    from services.sponsorship import delivery

    sc = world["sc"]
    delivery.refresh_campaign(db, sc.tenant_id, sc.campaign_id)
    summary = report.attribution_report(db, TenantContext(sc.tenant_id, "owner"), sc.campaign_id).summary
    # Impressions: PA 6 downloads of A1 in the flight (h1, h2 twice, h3, h4, one without a household key), PB 3
    # of B1 (h1, h2 twice): 9 x CPM 20 / 1000 = 0.18.
    assert summary["spend"] == pytest.approx(0.18)
    assert summary["roas"] == pytest.approx(120 / 0.18, rel=1e-3)
    assert summary["cpa"] == pytest.approx(0.18 / 3, abs=1e-4)
    assert summary["cost_per_visitor"] == pytest.approx(0.18)  # one visitor: h1


def test_report_is_not_found_for_another_sponsor_or_tenant_and_rejects_bad_params(db, world):
    sc = world["sc"]
    own = TenantContext(sc.tenant_id, "sponsor", sponsor_id=sc.sponsor_id)
    assert report.attribution_report(db, own, sc.campaign_id).summary["conversions"] == 3
    with pytest.raises(NotFound):
        report.attribution_report(db, TenantContext(sc.tenant_id, "sponsor", sponsor_id=world["other_sponsor"]),
                                  sc.campaign_id)
    demo = accounts.get_tenant_by_slug(db, "demo")
    with pytest.raises(NotFound):
        report.attribution_report(db, TenantContext(demo.id, "owner"), sc.campaign_id)
    with pytest.raises(ValidationError) as bad:
        report.attribution_report(db, TenantContext(sc.tenant_id, "owner"), sc.campaign_id, "last", "show")
    assert set(bad.value.fields) == {"model", "group_by"}
    with pytest.raises(PermissionDenied):
        report.check_recompute(db, own, sc.campaign_id)
    with pytest.raises(PermissionDenied):
        report.check_recompute(db, TenantContext(sc.tenant_id, "viewer"), sc.campaign_id)
    with pytest.raises(NotFound):
        report.check_recompute(db, TenantContext(demo.id, "owner"), sc.campaign_id)


def _key(db, slug):
    tenant = accounts.get_tenant_by_slug(db, slug)
    _, key = api_keys.create_api_key(db, TenantContext(tenant.id, "owner"), "reports", ("read",))
    return {"Authorization": f"Bearer {key}"}


def test_api_answers_data_and_summary_csv_422_and_404(client, db, world):
    sc = world["sc"]
    url = f"/api/v1/campaigns/{sc.campaign_id}/attribution"
    headers = _key(db, "brew")
    response = client.get(url + "?model=first_touch&group_by=placement", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert {r["placement_id"]: r["conversions"] for r in body["data"]} == {sc.pa: 2.0, sc.pb: 0.0}
    assert body["summary"]["conversions"] == 3 and body["summary"]["lift"]["message"].startswith("too few")
    assert set(body["summary"]) >= {"revenue", "spend", "roas", "cpa", "aov", "cr", "cost_per_visitor",
                                    "promo_code_conversions", "households_reached", "usable_ip_share",
                                    "usable_ip_warning", "lift", "computed_at"}
    shows = client.get(url + "?model=shapley", headers=headers).get_json()["data"]
    assert sum(r["conversions"] for r in shows) == pytest.approx(2.0) and {"podcast_id", "podcast"} <= set(shows[0])
    csv = client.get(url + "?group_by=day&format=csv", headers=headers)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True).splitlines() == ["day,conversions,revenue", "2026-06-06,1.0,50.0",
                                                       "2026-06-15,1.0,30.0"]
    for query, field in (("?model=best", "model"), ("?group_by=show", "group_by")):
        bad = client.get(url + query, headers=headers)
        assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
        assert field in bad.get_json()["errors"]
    other = client.get(url, headers=_key(db, "demo"))
    assert other.status_code == 404 and "Show A" not in other.get_data(as_text=True)


def test_page_shows_the_section_to_staff_and_the_own_sponsor_only(app, world):
    sc = world["sc"]
    status, out = _view(_login(app, "owner@brew.test"), sc.campaign_id)
    text = json.dumps(out, ensure_ascii=False)
    assert status == 200 and "Show A · A1 · pre" in text and "too few to say" in text and "Last computed at" in text
    assert out["campaign-attribution-recompute"]["style"] == {}
    status, out = _view(_login(app, "own@brew.test"), sc.campaign_id, model="first_touch")
    assert "Show A" in json.dumps(out, ensure_ascii=False)
    assert out["campaign-attribution-recompute"]["style"] == {"display": "none"}
    for client in (_login(app, "other@brew.test"), _login(app, "demo@example.com", DEMO_PASSWORD)):
        status, out = _view(client, sc.campaign_id)
        text = json.dumps(out, ensure_ascii=False)
        assert status == 200 and f"no campaign {sc.campaign_id}" in text  # the campaign services' not-found
        assert "Show A" not in text and "Brew" not in text and "120" not in text


def test_recompute_runs_for_staff_only(app, db, world):
    sc = world["sc"]
    status, out = _view(_login(app, "owner@brew.test"), sc.campaign_id, recompute=True)
    assert "being recomputed" in json.dumps(out["campaign-attribution-message"], ensure_ascii=False)
    status, out = _view(_login(app, "own@brew.test"), sc.campaign_id, recompute=True)
    assert "being recomputed" not in json.dumps(out, ensure_ascii=False) and "Show A" not in json.dumps(out, ensure_ascii=False)
    from sqlalchemy import func, select

    from services.models.attribution import AttributionRun

    with db.session(sc.tenant_id) as s:
        assert s.scalar(select(func.count()).select_from(AttributionRun)
                        .where(AttributionRun.campaign_id == sc.campaign_id)) == 2  # the fixture's and the owner's


def test_csv_download_of_the_lag_curve(app, world):
    sc = world["sc"]
    status, out = call_callback(
        _login(app, "owner@brew.test"), [("campaign-attribution-download", "data")],
        [[({"type": "campaign-attribution-csv", "view": "lag"}, "n_clicks", 1)]],
        [("campaign-id", "data", sc.campaign_id), ("campaign-attribution-model", "value", "last_touch")],
        ['{"type":"campaign-attribution-csv","view":"lag"}.n_clicks'])
    data = out["campaign-attribution-download"]["data"]
    content = data["content"] if not data.get("base64") else base64.b64decode(data["content"]).decode()
    # Last touch: h1's and h2's last exposures were both 1 day before; their earlier touches earn 0.
    assert content.splitlines() == ["days_since_exposure,conversions,revenue", "1,2.0,80.0", "3,0.0,0.0",
                                    "4,0.0,0.0", "5,0.0,0.0"]
    status, out = call_callback(
        _login(app, "other@brew.test"), [("campaign-attribution-download", "data")],
        [[({"type": "campaign-attribution-csv", "view": "lag"}, "n_clicks", 1)]],
        [("campaign-id", "data", sc.campaign_id), ("campaign-attribution-model", "value", None)],
        ['{"type":"campaign-attribution-csv","view":"lag"}.n_clicks'])
    assert status == 204 or out is None or "1,2.0" not in json.dumps(out, ensure_ascii=False)


def test_cli_attribute_prints_what_it_did(app, world):
    result = app.test_cli_runner().invoke(args=["attribute", "--tenant", "brew", "--campaign",
                                                str(world["sc"].campaign_id)])
    assert result.exit_code == 0, result.output
    assert "2 conversions matched" in result.output and "promo-code conversions 1" in result.output
    assert "too few to say" in result.output
