"""Services record their events in the same transaction as the change: campaigns, placements, log and feed imports,
attribution runs."""
import pytest
from sqlalchemy import select

from services.catalog import podcasts
from services.errors import ValidationError
from services.measurement import log_import
from services.models import DomainEvent, Podcast
from services.sponsorship import campaigns, placements
from services.sponsorship.attribution import results
from tests.unit.notify.people import campaign_form, quiet_trigger


def _events(db, type_) -> list[dict]:
    with db.session(system=True) as s:
        return [e.payload for e in s.scalars(select(DomainEvent).where(DomainEvent.type == type_)
                                             .order_by(DomainEvent.id))]


def test_campaign_and_placement_changes_record_their_events(db, people):
    quiet_trigger(db)
    editor, coffee = people.ctx("editor"), people.sponsors["Northwind Coffee"]
    created = campaigns.create_campaign(db, editor, campaign_form(coffee))
    campaigns.change_campaign_status(db, editor, created.id, "proposed")
    campaigns.update_campaign(db, editor, created.id, {"status": "approved"})
    with db.session(people.tenant_id) as s:
        podcast_id = s.scalar(select(Podcast.id).order_by(Podcast.id))
    placement = placements.create_placement(db, editor, created.id, {"podcast_id": podcast_id})

    assert _events(db, "campaign.created") == [{"campaign_id": created.id, "name": "Morning Ritual",
                                                "sponsor_id": coffee}]
    assert [(p["from"], p["to"]) for p in _events(db, "campaign.status_changed")] == [
        ("draft", "proposed"), ("proposed", "approved")]
    assert _events(db, "placement.added") == [{"campaign_id": created.id, "placement_id": placement.id,
                                               "podcast_id": podcast_id, "episode_id": None, "sponsor_id": coffee}]


def test_a_refused_change_records_no_event(db, people):
    quiet_trigger(db)
    before = len(_events(db, "campaign.created"))
    with pytest.raises(ValidationError):
        campaigns.create_campaign(db, people.ctx("editor"), campaign_form(people.sponsors["Northwind Coffee"]) |
                                  {"end_date": "2020-01-01"})
    assert len(_events(db, "campaign.created")) == before


def test_imports_record_completed_and_failed(db, people, tmp_path, monkeypatch):
    quiet_trigger(db)
    path = tmp_path / "access.log"
    path.write_text('203.0.113.5 - - [25/Nov/2026:06:00:00 +0000] "GET /x.mp3 HTTP/1.1" 200 5000000 "-" "curl"\n')
    log_import.import_log(db, people.ctx("editor"), path, "combined", host="media.example.com")
    [done] = _events(db, "import.completed")
    assert done["source"] == "log" and done["filename"] == "access.log" and done["lines"] == 1

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(log_import, "_import", broken)
    other = tmp_path / "other.log"
    other.write_text("x\n")
    with pytest.raises(RuntimeError, match="disk full"):
        log_import.import_log(db, people.ctx("editor"), other, "combined")
    [failed] = _events(db, "import.failed")
    assert failed["filename"] == "other.log" and "disk full" in failed["error"]


def test_a_failed_feed_refresh_and_an_attribution_run_record_their_events(db, people):
    quiet_trigger(db)
    with db.session(people.tenant_id) as s:
        podcast = s.scalar(select(Podcast).order_by(Podcast.id))
        podcast.feed_url = "ftp://feeds.example.com/show.xml"  # refused before any network call
        s.commit()
    assert podcasts.refresh_feed(db, podcast.id).startswith("error:")
    [failed] = _events(db, "feed.failed")
    assert failed["podcast_id"] == podcast.id and "http" in failed["error"]

    campaign_id = results.campaigns_to_attribute(db, people.tenant_id)[0]
    before = len(_events(db, "attribution.completed"))
    outcome = results.attribute_campaign(db, people.tenant_id, campaign_id)
    recorded = _events(db, "attribution.completed")
    assert len(recorded) == before + 1
    assert recorded[-1]["campaign_id"] == campaign_id and recorded[-1]["run_id"] == outcome.run_id
