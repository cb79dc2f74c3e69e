"""The sponsor and campaign pages' callbacks: messages land beside the fields they concern, edits load into the
form, archive and restore, placements and edits on the campaign page, and CSVs equal the service's frames."""
import io
import json
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import select

from services import accounts
from services.sponsorship import campaigns, delivery, pacing, placements
from services.models import Campaign, Podcast, Sponsor
from services.tenancy import TenantContext
from tests import campaign_client as cc


def _ids(db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    with db.session(tenant.id) as s:
        return (tenant.id, dict(s.execute(select(Sponsor.name, Sponsor.id)).all()),
                dict(s.execute(select(Campaign.name, Campaign.id)).all()),
                dict(s.execute(select(Podcast.title, Podcast.id)).all()))


def test_staff_navigation_has_the_management_pages(demo_client):
    _, out = cc.nav(demo_client)
    links = [link["props"]["children"] for link in out["shell-nav"]["children"]]
    assert "Sponsors" in links and "Campaigns" in links and "Overview" in links


def test_campaign_form_puts_each_message_beside_its_field(demo_client, db):
    _, sponsors, _, _ = _ids(db)
    values = {"sponsor_id": sponsors["Lumen VPN"], "name": "", "start_date": "2026-12-01", "end_date": "2026-11-01",
              "pricing": "cpm", "cpm": "abc", "promo_code": "privacy20", "target_countries": "US, Germany"}
    status, out = cc.campaigns_view(demo_client, values)
    assert status == 200
    messages = {key.removeprefix("campaigns-error-"): value["children"] for key, value in out.items()
                if key.startswith("campaigns-error-")}
    assert messages["name"] == "required" and messages["end_date"] == "on or after the start date"
    assert "an amount" in messages["cpm"] and "Germany" in messages["target_countries"]
    assert messages["sponsor_id"] is None and messages["objective"] is None
    assert "not created" in json.dumps(out["campaigns-message"])
    # promo_code is checked once the form is otherwise valid
    values.update(name="Fixed", end_date="2026-12-31", cpm="30", target_countries="US, DE")
    _, out = cc.campaigns_view(demo_client, values)
    assert out["campaigns-error-promo_code"]["children"] == "already used by another campaign"
    values["promo_code"] = "FIXED30"
    _, out = cc.campaigns_view(demo_client, values)
    assert "/campaigns/" in json.dumps(out["campaigns-message"]) and "Fixed" in json.dumps(out["campaigns-table"])
    assert all(v["children"] is None for k, v in out.items() if k.startswith("campaigns-error-"))


def test_sponsor_create_edit_archive(demo_client, db):
    _, out = cc.sponsors_view(demo_client, "save", {"name": "Acme Tea", "website": "tea.example.com"})
    assert out["sponsors-error-website"]["children"] == "an http:// or https:// address"
    assert out["sponsors-error-name"]["children"] is None and "Acme Tea" not in json.dumps(out["sponsors-table"])
    _, out = cc.sponsors_view(demo_client, "save", {"name": "Acme Tea", "website": "https://tea.example.com"})
    assert "Saved" in json.dumps(out["sponsors-message"]) and "Acme Tea" in json.dumps(out["sponsors-table"])
    assert out["sponsors-field-name"]["value"] is None  # the form is cleared for the next one
    _, sponsors, _, _ = _ids(db)
    tea = sponsors["Acme Tea"]
    _, out = cc.sponsors_view(demo_client, "edit", row_id=tea)
    assert out["sponsors-editing"]["data"] == tea
    assert out["sponsors-field-website"]["value"] == "https://tea.example.com"
    _, out = cc.sponsors_view(demo_client, "save", {"name": "Acme Tea Co", "website": "https://tea.example.com"},
                              editing=tea)
    assert "Acme Tea Co" in json.dumps(out["sponsors-table"]) and out["sponsors-editing"]["data"] is None
    _, out = cc.sponsors_view(demo_client, "archive", row_id=tea)
    assert "archived" in json.dumps(out["sponsors-message"])
    assert tea not in [o["value"] for o in out["sponsors-invite-sponsor"]["options"]]
    _, out = cc.sponsors_view(demo_client, "archive", row_id=tea)
    assert "restored" in json.dumps(out["sponsors-message"])


def test_invite_shows_the_password_once_and_names_a_bad_email(demo_client, db):
    _, sponsors, _, _ = _ids(db)
    _, out = cc.invite(demo_client, sponsors["Lumen VPN"], "nope")
    assert out["sponsors-invite-error"]["children"] == "not an email address"
    _, out = cc.invite(demo_client, None, "a@b.test")
    assert out["sponsors-invite-error-sponsor"]["children"] == "choose a sponsor"
    _, out = cc.invite(demo_client, sponsors["Lumen VPN"], "buyer@lumen.test")
    password = out["sponsors-invite-result"]["children"]["props"]["children"][1]["props"]["children"]
    assert accounts.authenticate(db, "buyer@lumen.test", password)


def test_campaign_page_placement_edit_and_moves(demo_client, db):
    tenant_id, sponsors, _, podcasts = _ids(db)
    owner = TenantContext(tenant_id, "owner")
    today = date.today()
    campaign_id = campaigns.create_campaign(db, owner, {
        "sponsor_id": sponsors["Lumen VPN"], "name": "Page Test", "cpm": 20, "goal_impressions": 1000,
        "start_date": (today - timedelta(days=10)).isoformat(),
        "end_date": (today + timedelta(days=10)).isoformat()}).id
    _, out = cc.campaign_view(demo_client, campaign_id, placement={
        "podcast_id": podcasts["Market Hours"], "end_date": (today + timedelta(days=30)).isoformat()})
    assert "inside the campaign's flight" in out["campaign-placement-error-end_date"]["children"]
    assert out["campaign-placement-error-podcast_id"]["children"] is None
    _, out = cc.campaign_view(demo_client, campaign_id, placement={"podcast_id": podcasts["Market Hours"],
                                                                   "insertion": "sideways"})
    assert "dynamic" in out["campaign-placement-error-insertion"]["children"]
    _, out = cc.campaign_view(demo_client, campaign_id, placement={"podcast_id": podcasts["Market Hours"],
                                                                   "insertion": "baked"})
    assert "Placement added" in json.dumps(out["campaign-message"])
    assert "Market Hours" in json.dumps(out["campaign-placements"])
    assert "baked in" in json.dumps(out["campaign-placements"])
    assert "Market Hours" in json.dumps(out["campaign-by-show"])

    _, out = cc.load_forms(demo_client, campaign_id)
    assert out["campaign-edit-field-name"]["value"] == "Page Test" and out["campaign-edit-field-cpm"]["value"] == "20"
    edit = {k.removeprefix("campaign-edit-field-"): v.get("value", v.get("date")) for k, v in out.items()
            if k.startswith("campaign-edit-field-")}
    # The flight's dates fill the date pickers (their `date`), as ISO dates
    assert out["campaign-edit-field-start_date"]["date"] == (today - timedelta(days=10)).isoformat()
    _, out = cc.campaign_view(demo_client, campaign_id, edit=edit | {"cpm": "-3"})
    assert out["campaign-edit-error-cpm"]["children"] == "cannot be negative"
    _, out = cc.campaign_view(demo_client, campaign_id, edit=edit | {"goal_impressions": "2000", "budget": ""})
    assert "Saved" in json.dumps(out["campaign-message"])
    assert campaigns.get_campaign(db, owner, campaign_id).goal_impressions == 2000

    _, out = cc.campaign_view(demo_client, campaign_id, move="live", statuses=("proposed", "cancelled"))
    assert "cannot become live" in json.dumps(out["campaign-message"])  # not offered, and refused if forced
    _, out = cc.campaign_view(demo_client, campaign_id, move="proposed", statuses=("proposed", "cancelled"))
    buttons = [b["props"]["children"] for b in out["campaign-status-buttons"]["children"]]
    assert buttons == ["Move to approved", "Move to cancelled", "Move to draft"]
    history = json.dumps(out["campaign-history"])
    assert "demo@example.com" in history and "proposed" in history

    placement_id = placements.list_placements(db, owner, campaign_id)[0].id
    _, out = cc.campaign_view(demo_client, campaign_id, remove=placement_id)
    assert "Placement removed" in json.dumps(out["campaign-message"])
    assert placements.list_placements(db, owner, campaign_id) == []
    assert delivery.delivery_by(db, owner, campaign_id, "podcast").empty
    _, out = cc.campaign_view(demo_client, campaign_id, move="cancelled", statuses=("approved", "cancelled", "draft"))
    assert out["campaign-status-buttons"]["children"] == []  # nowhere to go from cancelled
    assert out["campaign-placement-box"]["style"] == out["campaign-edit-box"]["style"] == {"display": "none"}


def test_csvs_equal_the_service_frames(demo_client, db):
    tenant_id, _, campaign_ids, _ = _ids(db)
    privacy = campaign_ids["Privacy Month"]
    ctx = TenantContext(tenant_id, "viewer")
    for view in ("day", "podcast", "episode"):
        status, out = cc.download(demo_client, privacy, view)
        assert status == 200
        frame = pd.read_csv(io.StringIO(out["campaign-download"]["data"]["content"]))
        assert out["campaign-download"]["data"]["filename"] == f"campaign_{privacy}_{view}.csv"
        assert frame.impressions.tolist() == delivery.delivery_by(db, ctx, privacy, view).impressions.tolist()
    _, out = cc.download(demo_client, privacy, "reach")
    frame = pd.read_csv(io.StringIO(out["campaign-download"]["data"]["content"]))
    assert list(frame.columns) == ["podcast_id", "podcast", "impressions", "reach", "frequency"]
    _, out = cc.download(demo_client, privacy, "history")
    frame = pd.read_csv(io.StringIO(out["campaign-download"]["data"]["content"]))
    assert frame["to"].tolist() == ["draft", "proposed", "approved", "live"]


def test_a_campaign_that_does_not_exist_says_so(demo_client):
    _, out = cc.campaign_view(demo_client, 999999)
    assert "no campaign 999999" in json.dumps(out["campaign-message"])
    assert out["campaign-placement-box"]["style"] == {"display": "none"}


def test_demo_campaigns_come_with_their_status_history_and_delivery(db):
    tenant_id, _, campaign_ids, _ = _ids(db)
    ctx = TenantContext(tenant_id, "viewer")
    for campaign_id in campaign_ids.values():
        detail = campaigns.get_campaign(db, ctx, campaign_id)
        history = campaigns.status_history(db, ctx, campaign_id)
        assert history[0].to_status == "draft" and history[-1].to_status == detail.status
        assert history[-1].who == "demo@example.com"
    live = pacing.pacing(db, ctx, campaign_ids["Privacy Month"])
    assert live.delivered > 0 and live.reach > 0
