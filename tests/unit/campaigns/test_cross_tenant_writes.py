"""Another tenant's ids in campaign writes: a placement on its podcast or episode, a campaign moved to its sponsor.
Each is refused naming the field, and nothing is written (no row, no audit entry, no event)."""
import pytest
from sqlalchemy import func, select

from services.errors import NotFound, ValidationError
from services.models import AuditLog, Campaign, DomainEvent, Episode, Placement
from services.sponsorship import campaigns, placements
from tests.unit.campaigns.conftest import campaign_data


def _counts(network):
    with network.db.session(system=True) as s:
        return {model.__name__: s.scalar(select(func.count()).select_from(model))
                for model in (Placement, AuditLog, DomainEvent)}


def _other_episode(network) -> int:
    with network.db.session(network.other_tenant_id) as s:
        episode = Episode(tenant_id=network.other_tenant_id, podcast_id=network.podcasts["other"], guid="o-1",
                          title="Elsewhere #1")
        s.add(episode)
        s.commit()
        return episode.id


def test_a_placement_on_another_tenants_podcast_or_episode_is_refused(network):
    editor = network.ctx("editor")
    campaign_id = campaigns.create_campaign(network.db, editor, campaign_data(network, promo_code=None)).id
    foreign_episode = _other_episode(network)
    before = _counts(network)
    with pytest.raises(ValidationError) as caught:
        placements.create_placement(network.db, editor, campaign_id, {"podcast_id": network.podcasts["other"]})
    assert caught.value.fields == {"podcast_id": "no such podcast"}
    with pytest.raises(ValidationError) as caught:  # its own podcast with the other tenant's episode
        placements.create_placement(network.db, editor, campaign_id,
                                    {"podcast_id": network.podcasts["tech"], "episode_id": foreign_episode})
    assert caught.value.fields == {"episode_id": "not an episode of this podcast"}
    assert _counts(network) == before
    assert placements.list_placements(network.db, editor, campaign_id) == []


def test_update_campaign_to_another_tenants_sponsor_is_refused(network):
    editor = network.ctx("editor")
    created = campaigns.create_campaign(network.db, editor, campaign_data(network, promo_code=None))
    before = _counts(network)
    with pytest.raises(ValidationError) as caught:
        campaigns.update_campaign(network.db, editor, created.id,
                                  {"sponsor_id": network.sponsors["other"], "name": "Moved"})
    assert caught.value.fields == {"sponsor_id": "no such sponsor"}
    assert _counts(network) == before
    with network.db.session(system=True) as s:
        stored = s.get(Campaign, created.id)
        assert (stored.sponsor_id, stored.name) == (network.sponsors["coffee"], created.name)
    # and the other tenant cannot reach this campaign at all, with its own sponsor or any other
    with pytest.raises(NotFound):
        campaigns.update_campaign(network.db, network.other("owner"), created.id,
                                  {"sponsor_id": network.sponsors["other"]})
