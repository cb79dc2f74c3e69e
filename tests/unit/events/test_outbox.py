"""The outbox: an event commits with its change and rolls back with it."""
import pytest
from sqlalchemy import select

from services import accounts
from services.events import outbox
from services.models import DomainEvent, Podcast


def test_an_event_commits_with_its_change_and_rolls_back_with_it(db):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    with db.session(tenant.id) as s:
        row = outbox.record(s, tenant.id, "podcast.renamed", {"podcast_id": 1})
        assert row.id is not None and row.status == "pending"
        s.commit()
    with pytest.raises(RuntimeError):
        with db.session(tenant.id) as s:
            s.add(Podcast(tenant_id=tenant.id, title="Never", prefix_key="never"))
            outbox.record(s, tenant.id, "podcast.created", {"title": "Never"})
            s.flush()
            raise RuntimeError("the change fails")
    with db.session(tenant.id) as s:
        types = s.scalars(select(DomainEvent.type).where(DomainEvent.tenant_id == tenant.id,
                                                         DomainEvent.type.like("podcast.%"))).all()
        event = outbox.Event.of(s.scalars(select(DomainEvent).where(DomainEvent.type == "podcast.renamed")).one())
        assert s.scalar(select(Podcast.id).where(Podcast.title == "Never")) is None
    assert types == ["podcast.renamed"]
    assert (event.type, event.payload) == ("podcast.renamed", {"podcast_id": 1})


@pytest.mark.parametrize("bad", ["", "created", "x." + "y" * 80])
def test_a_malformed_event_type_is_refused(db, bad):
    tenant = accounts.get_tenant_by_slug(db, "demo")
    with db.session(tenant.id) as s, pytest.raises(ValueError, match="event type"):
        outbox.record(s, tenant.id, bad)
