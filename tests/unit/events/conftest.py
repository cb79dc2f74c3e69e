"""Fixtures for the events tests: the demo network's people, fake handlers in the workflow, a campaign form."""
import pytest

from services.events import workflow
from tests.unit.events import fake_handlers
from tests.unit.notify.people import People, make_people


@pytest.fixture
def people(db) -> People:
    return make_people(db)


@pytest.fixture
def fakes(monkeypatch):
    """Other domains' handlers replaced by counting fakes (the real ones live on other branches)."""
    fake_handlers.reset()
    monkeypatch.setitem(workflow.HANDLERS, "webhooks.fan_out", fake_handlers.fan_out)
    monkeypatch.setitem(workflow.HANDLERS, "matchmaking.recommend", fake_handlers.make("matchmaking"))
    yield fake_handlers
    fake_handlers.reset()


def campaign_form(sponsor_id: int, name: str = "Morning Ritual") -> dict:
    return {"sponsor_id": sponsor_id, "name": name, "start_date": "2026-06-01", "end_date": "2026-06-30",
            "pricing": "cpm", "cpm": "25"}
